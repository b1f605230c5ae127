// A Simple Network Time Protocol client (RFC 4330, SNTPv4; packet format of RFC 5905 §7.3) over node:dgram. One
// query is one 48-byte client request (LI 0, VN 4, mode 3) and one validated reply; the clock offset and round-trip
// delay follow RFC 4330 §5:  offset = ((T2 - T1) + (T3 - T4)) / 2,  delay = (T4 - T1) - (T3 - T2).
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { isIP } from "node:net";

/** Seconds from the NTP prime epoch (1900-01-01) to the Unix epoch (1970-01-01). */
const NTP_UNIX_DELTA_S = 2_208_988_800;
/** Seconds in one NTP era (2^32): era 1 starts 2036-02-07T06:28:16Z. */
const ERA_S = 4_294_967_296;

/** The measurement of one server. Times in milliseconds; `offsetMs` > 0 means the local clock is behind the server. */
export interface SntpResult {
  server: string;
  offsetMs: number;
  delayMs: number;
  stratum: number;
  leap: number;
  version: number;
  /** Reference id: 4 ASCII chars at stratum 1, an IPv4 address (or hash) at stratum 2-15. */
  refId: string;
  /** Server clock quality, from the reply header (seconds). */
  rootDelayS: number;
  rootDispersionS: number;
}

/** A reply that failed validation, a Kiss-o'-Death, a timeout or a socket error. */
export class SntpError extends Error {
  constructor(
    message: string,
    readonly reason: "timeout" | "kiss-of-death" | "invalid" | "network" | "aborted",
    /** Kiss code (RFC 4330 §8: "DENY", "RSTR", "RATE", ...) when `reason` is kiss-of-death. */
    readonly kissCode?: string,
  ) {
    super(message);
    this.name = "SntpError";
  }
}

/** Unix milliseconds → the 8 bytes of an NTP timestamp (32-bit seconds, 32-bit fraction), era-aware. */
export function toNtpTimestamp(unixMs: number, out: Buffer = Buffer.alloc(8), offset = 0): Buffer {
  const totalS = unixMs / 1000 + NTP_UNIX_DELTA_S;
  const seconds = Math.floor(totalS);
  const fraction = Math.floor((totalS - seconds) * ERA_S);
  out.writeUInt32BE((seconds % ERA_S) >>> 0, offset);
  out.writeUInt32BE(Math.min(fraction, ERA_S - 1) >>> 0, offset + 4);
  return out;
}

/**
 * NTP timestamp bytes → Unix milliseconds. RFC 4330 §3: when the most significant bit of the seconds is 0, the time
 * is in era 1 (2036-2104), so the 2036 rollover does not send the clock back to 1900.
 */
export function fromNtpTimestamp(buf: Buffer, offset: number): number {
  const seconds = buf.readUInt32BE(offset);
  const fraction = buf.readUInt32BE(offset + 4);
  const era = seconds & 0x8000_0000 ? 0 : 1;
  return (seconds + era * ERA_S - NTP_UNIX_DELTA_S) * 1000 + (fraction / ERA_S) * 1000;
}

/** Builds a client request whose transmit timestamp is `t1` (its low 16 fraction bits random, ~15 µs, for matching). */
export function buildRequest(t1Ms: number): Buffer {
  const pkt = Buffer.alloc(48);
  pkt[0] = (0 << 6) | (4 << 3) | 3; // LI 0, VN 4, mode 3 (client)
  toNtpTimestamp(t1Ms, pkt, 40);
  randomBytes(2).copy(pkt, 46);
  return pkt;
}

/**
 * Validates a server reply against the request and computes offset and delay (RFC 4330 §5). T1 is the request's
 * transmit timestamp (exactly as sent); `t4Ms` is when the reply arrived. Throws SntpError("invalid" | "kiss-of-death") for a reply a client must discard.
 */
export function parseReply(reply: Buffer, request: Buffer, t4Ms: number, server = ""): SntpResult {
  if (reply.length < 48)
    throw new SntpError(`${server}: reply of ${reply.length} bytes (expected at least 48)`, "invalid");
  const leap = reply[0]! >> 6;
  const version = (reply[0]! >> 3) & 0x07;
  const mode = reply[0]! & 0x07;
  const stratum = reply[1]!;
  if (mode !== 4) throw new SntpError(`${server}: reply mode ${mode} (expected 4, server)`, "invalid");
  if (version < 3 || version > 4)
    throw new SntpError(`${server}: reply version ${version} (expected 3 or 4)`, "invalid");
  if (!reply.subarray(24, 32).equals(request.subarray(40, 48))) {
    // A reply to another request (or a spoofed one): its originate timestamp must echo our transmit timestamp.
    throw new SntpError(`${server}: originate timestamp does not match the request`, "invalid");
  }
  const refId = reply.subarray(12, 16);
  if (stratum === 0) {
    // RFC 4330 §8: stratum 0 is a Kiss-o'-Death; the reference id carries the code and the reply carries no time.
    const code = refId.toString("ascii").replace(/\0+$/, "");
    throw new SntpError(`${server}: kiss-o'-death ${code || "(no code)"}`, "kiss-of-death", code);
  }
  if (stratum > 15) throw new SntpError(`${server}: stratum ${stratum} (unsynchronised server)`, "invalid");
  if (leap === 3) throw new SntpError(`${server}: leap indicator 3 (server clock not synchronised)`, "invalid");
  if (reply.readUInt32BE(40) === 0 && reply.readUInt32BE(44) === 0) {
    throw new SntpError(`${server}: transmit timestamp is zero`, "invalid");
  }
  const t2 = fromNtpTimestamp(reply, 32);
  const t3 = fromNtpTimestamp(reply, 40);
  const t1 = fromNtpTimestamp(request, 40);
  const offsetMs = (t2 - t1 + (t3 - t4Ms)) / 2;
  const delayMs = t4Ms - t1 - (t3 - t2);
  return {
    server,
    offsetMs,
    delayMs: Math.max(0, delayMs),
    stratum,
    leap,
    version,
    refId: stratum === 1 ? refId.toString("ascii").replace(/\0+$/, "") : [...refId].join("."),
    rootDelayS: reply.readInt32BE(4) / 65536,
    rootDispersionS: reply.readUInt32BE(8) / 65536,
  };
}

/** Splits "host:port" (IPv6 as "[::1]:123"); the port defaults to 123. */
export function parseServer(spec: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : 123 };
  const i = spec.lastIndexOf(":");
  if (i > 0 && !spec.slice(0, i).includes(":")) return { host: spec.slice(0, i), port: Number(spec.slice(i + 1)) };
  return { host: spec, port: 123 };
}

/** Queries one NTP server ("host:port") once; rejects with SntpError on timeout, abort or an invalid reply. */
export function sntpQuery(
  server: string,
  opts: { timeoutMs?: number; signal?: AbortSignal; clock?: () => number } = {},
): Promise<SntpResult> {
  const { host, port } = parseServer(server);
  const clock = opts.clock ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const socket = createSocket(isIP(host) === 6 ? "udp6" : "udp4");
  return new Promise<SntpResult>((resolve, reject) => {
    let request: Buffer | null = null;
    let done = false;
    const finish = (err: Error | null, result?: SntpResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      socket.close();
      if (err) reject(err);
      else resolve(result!);
    };
    const onAbort = () => finish(new SntpError(`${server}: aborted`, "aborted"));
    const timer = setTimeout(
      () => finish(new SntpError(`${server}: no reply within ${timeoutMs} ms`, "timeout")),
      timeoutMs,
    );
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("error", (err) => finish(new SntpError(`${server}: ${err.message}`, "network")));
    socket.on("message", (msg) => {
      const t4 = clock();
      if (!request) return;
      try {
        finish(null, parseReply(msg, request, t4, server));
      } catch (err) {
        // An unmatched reply (a late answer to an earlier query, or spoofed) is ignored; anything else fails.
        if (err instanceof SntpError && err.message.endsWith("does not match the request")) return;
        finish(err as Error);
      }
    });
    // connect() resolves the name once and makes the kernel drop datagrams from any other address.
    socket.connect(port, host, (err?: Error) => {
      if (err) return finish(new SntpError(`${server}: ${err.message}`, "network"));
      request = buildRequest(clock());
      socket.send(request, (err) => {
        if (err) finish(new SntpError(`${server}: ${err.message}`, "network"));
      });
    });
  });
}
