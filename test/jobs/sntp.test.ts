import { createSocket, type Socket } from "node:dgram";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  buildRequest,
  fromNtpTimestamp,
  parseReply,
  parseServer,
  SntpError,
  sntpQuery,
  toNtpTimestamp,
} from "../../src/jobs/sntp.js";
import { type Chronyd, freeUdpPort, startChronyd } from "../support/chrony.js";

/** A server reply to `request` with the given receive/transmit times (Unix ms) and header overrides. */
function reply(
  request: Buffer,
  t2: number,
  t3: number,
  over: {
    li?: number;
    vn?: number;
    mode?: number;
    stratum?: number;
    refId?: string;
    origin?: Buffer;
    zeroTransmit?: boolean;
  } = {},
): Buffer {
  const b = Buffer.alloc(48);
  b[0] = ((over.li ?? 0) << 6) | ((over.vn ?? 4) << 3) | (over.mode ?? 4);
  b[1] = over.stratum ?? 2;
  b[2] = 6;
  b[3] = 0xe9;
  b.writeInt32BE(0x0000_2000, 4); // root delay 1/8 s (16.16 fixed point)
  b.writeUInt32BE(0x0000_1000, 8); // root dispersion 1/16 s
  Buffer.from((over.refId ?? "\x0a\x00\x00\x01").padEnd(4, "\0"), "latin1").copy(b, 12);
  toNtpTimestamp(t2 - 1000, b, 16);
  (over.origin ?? request.subarray(40, 48)).copy(b, 24);
  toNtpTimestamp(t2, b, 32);
  if (!over.zeroTransmit) toNtpTimestamp(t3, b, 40);
  return b;
}

describe("NTP timestamps (RFC 4330 §3)", () => {
  it("round-trips Unix milliseconds within the format's resolution", () => {
    for (const ms of [
      0,
      1_795_623_594_260.5,
      Date.parse("2036-02-07T06:28:15.999Z"),
      Date.parse("2040-01-01T00:00:00Z"),
    ]) {
      expect(Math.abs(fromNtpTimestamp(toNtpTimestamp(ms), 0) - ms)).toBeLessThan(0.001);
    }
  });
  it("reads seconds with the top bit clear as era 1 (after 2036-02-07T06:28:16Z)", () => {
    const b = Buffer.alloc(8); // all zero: the first instant of era 1
    expect(new Date(fromNtpTimestamp(b, 0)).toISOString()).toBe("2036-02-07T06:28:16.000Z");
    b.writeUInt32BE(0x8000_0000, 0);
    expect(new Date(fromNtpTimestamp(b, 0)).toISOString()).toBe("1968-01-20T03:14:08.000Z");
  });
  it("builds a 48-byte SNTPv4 client request (LI 0, VN 4, mode 3) carrying T1", () => {
    const t1 = 1_795_623_594_260;
    const r = buildRequest(t1);
    expect(r.length).toBe(48);
    expect(r[0]).toBe(0x23);
    expect(r.subarray(1, 40).every((x) => x === 0)).toBe(true);
    expect(Math.abs(fromNtpTimestamp(r, 40) - t1)).toBeLessThan(0.02); // random low 16 bits: < 15.3 µs
  });
});

describe("parseReply (RFC 4330 §5)", () => {
  const t1 = 1_795_623_594_000;
  const req = buildRequest(t1);
  const T1 = fromNtpTimestamp(req, 40);

  it("computes offset = ((T2-T1)+(T3-T4))/2 and delay = (T4-T1)-(T3-T2)", () => {
    // Server clock 300 ms ahead; 10 ms each way; 2 ms in the server.
    const r = parseReply(reply(req, T1 + 10 + 300, T1 + 12 + 300), req, T1 + 22, "s:123");
    expect(r.offsetMs).toBeCloseTo(300, 3);
    expect(r.delayMs).toBeCloseTo(20, 3);
    expect(r).toMatchObject({
      server: "s:123",
      stratum: 2,
      leap: 0,
      version: 4,
      refId: "10.0.0.1",
      rootDelayS: 0.125,
      rootDispersionS: 0.0625,
    });
  });
  it("gives a negative offset when the local clock is ahead", () => {
    expect(parseReply(reply(req, T1 - 500, T1 - 500), req, T1, "").offsetMs).toBeCloseTo(-500, 3);
  });
  it("reads a stratum-1 reference id as ASCII", () => {
    expect(parseReply(reply(req, T1, T1, { stratum: 1, refId: "GPS" }), req, T1).refId).toBe("GPS");
  });
  const invalid: [string, Buffer, RegExp][] = [
    ["a short packet", Buffer.alloc(47), /47 bytes/],
    ["mode 3 (a client request echoed back)", reply(req, T1, T1, { mode: 3 }), /mode 3/],
    ["version 2", reply(req, T1, T1, { vn: 2 }), /version 2/],
    ["stratum 16 (unsynchronised)", reply(req, T1, T1, { stratum: 16 }), /stratum 16/],
    ["leap indicator 3 (alarm)", reply(req, T1, T1, { li: 3 }), /leap indicator 3/],
    ["a zero transmit timestamp", reply(req, T1, T1, { zeroTransmit: true }), /transmit timestamp is zero/],
    ["an originate timestamp that is not ours", reply(req, T1, T1, { origin: Buffer.alloc(8, 7) }), /does not match/],
  ];
  it.each(invalid)("discards %s", (_name, pkt, msg) => {
    expect(() => parseReply(pkt, req, T1)).toThrow(msg);
    try {
      parseReply(pkt, req, T1);
    } catch (e) {
      expect((e as SntpError).reason).toBe("invalid");
    }
  });
  it("reports a Kiss-o'-Death (stratum 0) with its code (RFC 4330 §8)", () => {
    try {
      parseReply(reply(req, T1, T1, { stratum: 0, refId: "RATE" }), req, T1);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SntpError);
      expect(e).toMatchObject({ reason: "kiss-of-death", kissCode: "RATE" });
    }
  });
});

describe("parseServer", () => {
  it.each([
    ["pool.ntp.org:123", { host: "pool.ntp.org", port: 123 }],
    ["127.0.0.1:11123", { host: "127.0.0.1", port: 11123 }],
    ["time.example", { host: "time.example", port: 123 }],
    ["[::1]:1234", { host: "::1", port: 1234 }],
    ["[2001:db8::1]", { host: "2001:db8::1", port: 123 }],
  ])("%s", (spec, want) => expect(parseServer(spec)).toEqual(want));
});

describe("sntpQuery against a scripted UDP server", () => {
  let server: Socket;
  let port: number;
  let behave: (msg: Buffer, send: (b: Buffer) => void) => void;
  beforeAll(async () => {
    server = createSocket("udp4");
    server.on("message", (msg, rinfo) => behave(msg, (b) => server.send(b, rinfo.port, rinfo.address)));
    await new Promise<void>((r) => server.bind(0, "127.0.0.1", () => r()));
    port = server.address().port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("measures a server 300 ms ahead", async () => {
    behave = (msg, send) => {
      const now = Date.now() + 300;
      send(reply(msg, now, now));
    };
    const r = await sntpQuery(`127.0.0.1:${port}`, { timeoutMs: 2000 });
    // The true offset is within delay/2 (+1 ms of Date.now resolution) of the measured one.
    expect(Math.abs(r.offsetMs - 300)).toBeLessThanOrEqual(r.delayMs / 2 + 1);
  });
  it("ignores a reply to another request and takes the matching one", async () => {
    behave = (msg, send) => {
      const now = Date.now();
      send(reply(msg, now, now, { origin: Buffer.alloc(8, 1) }));
      send(reply(msg, now - 1000, now - 1000));
    };
    const r = await sntpQuery(`127.0.0.1:${port}`, { timeoutMs: 2000 });
    expect(Math.abs(r.offsetMs + 1000)).toBeLessThanOrEqual(r.delayMs / 2 + 1);
  });
  it("rejects a kiss-o'-death", async () => {
    behave = (msg, send) => send(reply(msg, Date.now(), Date.now(), { stratum: 0, refId: "DENY" }));
    await expect(sntpQuery(`127.0.0.1:${port}`)).rejects.toMatchObject({ reason: "kiss-of-death", kissCode: "DENY" });
  });
  it("times out when the server stays silent", async () => {
    behave = () => {};
    await expect(sntpQuery(`127.0.0.1:${port}`, { timeoutMs: 100 })).rejects.toMatchObject({ reason: "timeout" });
  });
  it("stops when the caller aborts", async () => {
    behave = () => {};
    const ac = new AbortController();
    const q = sntpQuery(`127.0.0.1:${port}`, { timeoutMs: 60_000, signal: ac.signal });
    ac.abort();
    await expect(q).rejects.toMatchObject({ reason: "aborted" });
  });
  it("fails fast on a closed port (ICMP port unreachable) and on an unknown host", async () => {
    const closed = await freeUdpPort();
    await expect(sntpQuery(`127.0.0.1:${closed}`, { timeoutMs: 5000 })).rejects.toMatchObject({ reason: "network" });
    await expect(sntpQuery("no-such-host.invalid:123", { timeoutMs: 5000 })).rejects.toMatchObject({
      reason: "network",
    });
  });
});

describe("sntpQuery against a real chronyd on loopback", () => {
  let chrony: Chronyd | undefined;
  afterEach(async () => {
    await chrony?.stop();
    chrony = undefined;
  });

  it("measures an offset near zero from a chronyd serving this host's clock", async () => {
    chrony = await startChronyd();
    const r = await sntpQuery(chrony.server, { timeoutMs: 2000 });
    expect(r).toMatchObject({ stratum: 8, leap: 0, version: 4, refId: "127.127.1.1" });
    expect(Math.abs(r.offsetMs)).toBeLessThan(50);
  });
  it("sees the skew of a chronyd running under faketime +2 s", async () => {
    chrony = await startChronyd({ fakeOffset: "+2" });
    const r = await sntpQuery(chrony.server, { timeoutMs: 2000 });
    // chronyd stamps reception with the kernel's (unfaked) clock when it trusts it, and its own otherwise: T2 is
    // real or skewed, T3 is skewed, so the offset is half to all of the fake shift.
    expect(r.offsetMs).toBeGreaterThan(900);
    expect(r.offsetMs).toBeLessThan(2100);
  });
});
