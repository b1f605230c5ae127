// The Redis side of the parallel `audit verify` (verify-parallel.ts): the audit stream in the XRANGE pages readEntries
// reads (5,000 entries, from "-", each next page after the last id, until a short page), as raw bytes. Decoding a
// reply into JavaScript values costs more than verifying it (five values per entry), so the pages are read over a
// connection of their own, opened with the client's options (host or socket path, TLS, AUTH, SELECT), and scanned
// here only for where each entry's `e` value lies. Each entry is what readEntries yields: the value after the first
// element equal to "e", or nothing. Where that connection cannot be had (Sentinel, an unusual setup, an error), the
// pages come through the client itself as buffers.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { Redis } from "ioredis";

/** A run of stored entries: entry k is `buf[spans[2k], spans[2k+1])`, or newline-separated lines when null. */
export interface Chunk {
  buf: Buffer;
  spans: Uint32Array | null;
}

/** readEntries' page size: the same pages, so the same entries are read. */
export const REDIS_PAGE = 5_000;
/** Entries per chunk handed to a worker (a page is split so the last entries' signatures are shared out). */
const PER_CHUNK = 1_250;

interface Page {
  count: number;
  last: string;
  /** The reply's bytes and, per entry, where its value lies (an absent one is an empty span). */
  buf: Buffer;
  spans: number[];
}

/**
 * The stream's pages as chunks of whole entries, the next page on its way while one is handed over. `raw: false`
 * reads through the client only; `onReader` is told which reader it got.
 */
export async function* redisChunks(
  redis: Redis,
  key: string,
  opts: { raw?: boolean; onReader?: (reader: "raw" | "client") => void } = {},
): AsyncGenerator<Chunk> {
  let raw: RawConnection | null = null;
  if (opts.raw !== false) raw = await RawConnection.open(redis).catch(() => null);
  opts.onReader?.(raw ? "raw" : "client");
  const fetch = (from: string): Promise<Page> => (raw ? raw.page(key, from) : clientPage(redis, key, from));
  try {
    let next: Promise<Page> | null = fetch("-");
    while (next) {
      const page: Page = await next;
      next = page.count < REDIS_PAGE ? null : fetch(`(${page.last}`);
      next?.catch(() => {});
      yield* split(page);
    }
  } finally {
    raw?.close();
  }
}

function* split(page: Page): Generator<Chunk> {
  for (let i = 0; i < page.count; i += PER_CHUNK) {
    const n = Math.min(PER_CHUNK, page.count - i);
    const from = page.spans[2 * i]!;
    const to = page.spans[2 * (i + n) - 1]!;
    const buf = Buffer.allocUnsafeSlow(to - from);
    page.buf.copy(buf, 0, from, to);
    const spans = new Uint32Array(2 * n);
    for (let k = 0; k < 2 * n; k++) spans[k] = page.spans[2 * i + k]! - from;
    yield { buf, spans };
  }
}

/** A page through the client (decoded by ioredis, as buffers). */
async function clientPage(redis: Redis, key: string, from: string): Promise<Page> {
  const rows = await redis.xrangeBuffer(key, from, "+", "COUNT", REDIS_PAGE);
  const values = rows.map(([, fields]) => {
    const i = fields.findIndex((f) => f.length === 1 && f[0] === 0x65);
    return (i >= 0 ? fields[i + 1] : undefined) ?? Buffer.alloc(0);
  });
  const spans: number[] = [];
  let at = 0;
  for (const v of values) {
    spans.push(at, at + v.length);
    at += v.length;
  }
  return {
    count: rows.length,
    last: rows.length ? rows[rows.length - 1]![0].toString() : "",
    buf: Buffer.concat(values),
    spans,
  };
}

const command = (args: (string | number)[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join("")}`;

const STAR = 0x2a;
const DOLLAR = 0x24;

/** RESP2 over a socket of its own; replies are kept as bytes and scanned, never decoded. */
class RawConnection {
  // Two read buffers, one per page in turn: the previous page is still being copied out while the next one arrives.
  private readonly bufs = [Buffer.allocUnsafe(4 << 20), Buffer.allocUnsafe(4 << 20)];
  private which = 0;
  private buf = this.bufs[0]!;
  private len = 0;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  /** Outputs of the scanners below (no allocation per item). */
  private n = 0;
  private next = 0;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      if (this.len + d.length > this.buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.len + d.length));
        this.buf.copy(bigger, 0, 0, this.len);
        this.buf = bigger;
        this.bufs[this.which] = bigger;
      }
      this.len += d.copy(this.buf, this.len);
      this.wake?.();
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      this.wake?.();
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("connection closed")));
  }

  /** Opens a connection like the client's; throws when its options are not a plain server (e.g. Sentinel). */
  static async open(redis: Redis): Promise<RawConnection> {
    const o = redis.options;
    if (o.sentinels?.length || redis.status !== "ready") throw new Error("not a plain, connected server");
    const [host, port] = [o.host ?? "localhost", o.port ?? 6379];
    const socket = o.path
      ? netConnect({ path: o.path })
      : o.tls
        ? tlsConnect({ host, port, ...o.tls })
        : netConnect({ host, port, family: o.family });
    socket.setNoDelay(true);
    const conn = new RawConnection(socket);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("connect timeout")), o.connectTimeout ?? 10_000);
        socket.once(o.tls && !o.path ? "secureConnect" : "connect", () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      if (o.password) await conn.simple(o.username ? ["AUTH", o.username, o.password] : ["AUTH", o.password]);
      if (o.db) await conn.simple(["SELECT", o.db]);
      return conn;
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private send(args: (string | number)[]): void {
    this.which ^= 1;
    this.buf = this.bufs[this.which]!;
    this.len = 0;
    this.socket.write(command(args));
  }

  private async more(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    this.wake = null;
    if (this.failure) throw this.failure;
  }

  /** A complete `<type><integer>\r\n` line at p (sets n and next); false when it has not all arrived. */
  private header(p: number, type: number): boolean {
    const cr = this.buf.indexOf(13, p);
    if (cr < 0 || cr + 1 >= this.len) return false;
    if (this.buf[p] !== type)
      throw new Error(`unexpected reply: ${this.buf.toString("utf8", p, Math.min(cr, p + 200))}`);
    let v = 0;
    const neg = this.buf[p + 1] === 0x2d;
    for (let i = neg ? p + 2 : p + 1; i < cr; i++) v = v * 10 + this.buf[i]! - 0x30;
    this.n = neg ? -v : v;
    this.next = cr + 2;
    return true;
  }

  /** A complete bulk string at p: its bytes are [next - n - 2, next - 2); false when it has not all arrived. */
  private bulk(p: number): boolean {
    if (!this.header(p, DOLLAR)) return false;
    if (this.n < 0) throw new Error("unexpected null in an XRANGE reply");
    if (this.len < this.next + this.n + 2) return false;
    this.next += this.n + 2;
    return true;
  }

  /** Sends a command whose reply is a status line (AUTH, SELECT); throws on an error reply. */
  private async simple(args: (string | number)[]): Promise<void> {
    this.send(args);
    for (;;) {
      const cr = this.buf.indexOf(13, 0);
      if (cr >= 0 && cr + 1 < this.len) {
        if (this.buf[0] !== 0x2b) throw new Error(this.buf.toString("utf8", 1, cr));
        return;
      }
      await this.more();
    }
  }

  /** One XRANGE page, scanned as the reply arrives: entry by entry, resuming at the first incomplete one. */
  async page(key: string, from: string): Promise<Page> {
    this.send(["XRANGE", key, from, "+", "COUNT", REDIS_PAGE]);
    const spans: number[] = [];
    let count = -1;
    let p = 0;
    let last = "";
    for (;;) {
      if (count < 0 && this.header(0, STAR)) {
        count = this.n;
        p = this.next;
      }
      while (count >= 0 && spans.length < 2 * count) {
        const after = this.entry(p, spans);
        if (after < 0) break;
        if (spans.length === 2 * count) last = this.buf.toString("latin1", this.idAt, this.idEnd);
        p = after;
      }
      if (count >= 0 && spans.length === 2 * count) return { count, last, buf: this.buf, spans };
      await this.more();
    }
  }

  /** Where the id of the entry scanned last lies. */
  private idAt = 0;
  private idEnd = 0;

  /** One complete entry at p: pushes its value's span and returns where the next entry starts; -1 if incomplete. */
  private entry(p: number, spans: number[]): number {
    if (!this.header(p, STAR) || !this.bulk(this.next)) return -1;
    const idEnd = this.next - 2;
    const idAt = idEnd - this.n;
    if (!this.header(this.next, STAR)) return -1;
    const fields = this.n;
    let at = this.next;
    let va = -1;
    let vb = -1;
    for (let f = 0; f < fields; f++) {
      if (!this.bulk(at)) return -1;
      const a = this.next - 2 - this.n;
      const isE = this.n === 1 && this.buf[a] === 0x65;
      at = this.next;
      if (va < 0 && isE && f + 1 < fields) {
        if (!this.bulk(at)) return -1;
        vb = this.next - 2;
        va = vb - this.n;
        at = this.next;
        f++;
      }
    }
    if (va < 0) va = vb = at;
    spans.push(va, vb);
    this.idAt = idAt;
    this.idEnd = idEnd;
    return at;
  }
}
