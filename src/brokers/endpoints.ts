// Broker endpoints: a broker's configured [primary, backup…], the active one every adapter call uses, and the pin
// that makes every call in one async scope use a given endpoint (the latency probe measuring a backup, the panic
// failing over). The active endpoint is a Redis flag (`<prefix>endpoint:active:<broker>`, docs/redis-keys.md), read
// through a cache: a call takes the cached value at once and, when it is older than ACTIVE_TTL_MS, starts one
// background re-read. No call ever waits on Redis for it; while Redis is away the last value read stays in force.
import { AsyncLocalStorage } from "node:async_hooks";
import type { Redis } from "ioredis";
import { z } from "zod";
import { type BrokerConfig, normaliseEndpoint } from "../config-schema.js";
import type { Keys } from "../state/keys.js";
import { connectionLost } from "../state/redis.js";

/** How old the cached active endpoint may get before a call starts a re-read of the flag. */
export const ACTIVE_TTL_MS = 1_000;
/** Longest one re-read of the flag may take (a hung Redis must not leave the cache frozen behind a pending read). */
const READ_TIMEOUT_MS = 1_000;

/** An Alpaca endpoint as the adapter uses it: no trailing slash, no trailing /v2 (its paths include /v2). */
export function alpacaBase(url: string): string {
  return normaliseEndpoint(url).replace(/\/v2$/, "");
}

/** A ccxt endpoint: its origin (scheme://host[:port], lower-case host, default port dropped). */
export function originOf(url: string): string {
  try {
    return new URL(url.trim()).origin;
  } catch {
    return normaliseEndpoint(url);
  }
}

/** `url` as a broker of `kind` names its endpoints (what the config, the flag and the commands compare). */
export function normaliseFor(kind: BrokerConfig["kind"], url: string): string {
  return kind === "ccxt" ? originOf(url) : kind === "alpaca" ? alpacaBase(url) : normaliseEndpoint(url);
}

/** The endpoints of a broker's config, normalised, primary first; [] for a kind without endpoints (paper). */
export function endpointsOf(cfg: BrokerConfig): string[] {
  if (cfg.kind === "alpaca") return (cfg.endpoints ?? [cfg.base_url]).map(alpacaBase);
  if (cfg.kind === "ccxt") return (cfg.endpoints ?? []).map(originOf);
  return [];
}

/** True when the broker's config lists `endpoints` (it then takes part in the latency probe and failover). */
export function declaresEndpoints(cfg: BrokerConfig): boolean {
  return cfg.kind !== "paper" && cfg.endpoints !== undefined;
}

/** The active-endpoint flag (a hash) as written by the failover and `tradeguard endpoint use`. */
export const activeFlagSchema = z
  .object({
    url: z.string().min(1),
    since: z.string().optional(),
    by: z.string().optional(),
    reason: z.string().optional(),
    from: z.string().optional(),
  })
  .loose();
export type ActiveFlag = z.infer<typeof activeFlagSchema>;

/** The fields `endpoint:active:<broker>` is written with (one HSET; the runner's hset op or the operation's). */
export function activeFlagFields(f: { url: string; since: Date; by: string; reason: string; from: string }) {
  return { url: f.url, since: f.since.toISOString(), by: f.by, reason: f.reason, from: f.from };
}

/** Where the active endpoint comes from (Redis in the runtime; nothing in unit tests, which stay on the primary). */
export interface ActiveSource {
  /** The flag's `url` field, or null when absent. Rejects when it cannot be read. */
  read(broker: string): Promise<string | null>;
}

/** The flag in Redis; skipped at once while the connection is known lost (the cache keeps its value). */
export function redisActiveSource(redis: Redis, keys: Keys): ActiveSource {
  return {
    async read(broker) {
      if (connectionLost(redis)) throw new Error(`Redis unreachable (connection ${redis.status})`);
      return redis.hget(keys.endpointActive(broker), "url");
    },
  };
}

/** What a broker's endpoints look like from this process right now (for `tradeguard endpoint list` and the soak). */
export interface EndpointsView {
  broker: string;
  urls: string[];
  active: string;
  /** "flag": read from Redis; "default": no flag read yet or none set (the primary). */
  activeSource: "flag" | "default";
  /** A flag value that is not a configured endpoint (ignored: the primary is used), or null. */
  invalid: string | null;
  /** Why the last read of the flag failed, or null. */
  readError: string | null;
}

/** One broker's endpoints: the active one (cached flag), failover order, and per-scope pins. */
export class BrokerEndpoints {
  readonly urls: readonly string[];
  private active: string;
  private activeSource: EndpointsView["activeSource"] = "default";
  private invalid: string | null = null;
  private readError: string | null = null;
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | null = null;
  private readonly pin = new AsyncLocalStorage<string>();
  /** The flag's source; none with a single endpoint (there is nothing to choose). */
  private readonly source: ActiveSource | undefined;

  constructor(
    readonly broker: string,
    urls: string[],
    source?: ActiveSource,
    private readonly opts: { ttlMs?: number; readTimeoutMs?: number; clock?: () => number } = {},
  ) {
    if (urls.length === 0) throw new Error(`${broker}: a broker needs at least one endpoint`);
    this.urls = Object.freeze([...urls]);
    this.active = urls[0]!;
    this.source = urls.length > 1 ? source : undefined;
  }

  /** The first configured endpoint: what adapters use while no flag says otherwise. */
  get primary(): string {
    return this.urls[0]!;
  }

  /** True when `url` is one of this broker's endpoints (normalised first). */
  has(url: string): boolean {
    return this.urls.includes(url);
  }

  /**
   * The endpoint a call made now goes to: the pinned one inside `using`, else the active one. Never waits: a stale
   * cache starts a background re-read and this call still gets the value in force.
   */
  current(): string {
    return this.pin.getStore() ?? this.activeNow();
  }

  /** The active endpoint (cached), re-read in the background when stale. */
  activeNow(): string {
    const now = this.now();
    if (this.source && !this.reading && now - this.readAt >= (this.opts.ttlMs ?? ACTIVE_TTL_MS)) {
      void this.refresh();
    }
    return this.active;
  }

  /** Runs `fn` with every call of this broker's adapter in its async scope pinned to `url`. */
  using<T>(url: string, fn: () => Promise<T>): Promise<T> {
    if (!this.has(url)) return Promise.reject(new Error(`${this.broker}: ${url} is not one of its endpoints`));
    return this.pin.run(url, fn);
  }

  /** The order to try endpoints in, starting at `from` (the active one): the ones after it, then the ones before. */
  failoverOrder(from: string = this.activeNow()): string[] {
    const i = Math.max(0, this.urls.indexOf(from));
    return [...this.urls.slice(i), ...this.urls.slice(0, i)];
  }

  /** Reads the flag now (bounded by a timeout); resolves whether or not the read worked. Concurrent calls share it. */
  refresh(): Promise<void> {
    if (!this.source) return Promise.resolve();
    if (this.reading) return this.reading;
    this.readAt = this.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const ms = this.opts.readTimeoutMs ?? READ_TIMEOUT_MS;
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      timer.unref();
    });
    const read = Promise.race([this.source.read(this.broker), timeout]).then(
      (v) => this.apply(v),
      (err) => {
        this.readError = (err as Error)?.message ?? String(err);
      },
    );
    this.reading = read.finally(() => {
      clearTimeout(timer);
      this.reading = null;
    });
    return this.reading;
  }

  /** Uses `url` from now on in this process (after this process wrote the flag itself). */
  adopt(url: string): void {
    if (!this.has(url)) throw new Error(`${this.broker}: ${url} is not one of its endpoints`);
    this.active = url;
    this.activeSource = "flag";
    this.invalid = null;
    this.readAt = this.now();
  }

  /** What this process currently believes (no read). */
  view(): EndpointsView {
    return {
      broker: this.broker,
      urls: [...this.urls],
      active: this.active,
      activeSource: this.activeSource,
      invalid: this.invalid,
      readError: this.readError,
    };
  }

  private apply(v: string | null): void {
    this.readError = null;
    const url = v === null ? null : normaliseEndpoint(v);
    if (url !== null && this.has(url)) {
      this.active = url;
      this.activeSource = "flag";
      this.invalid = null;
      return;
    }
    // Absent: the primary. Not a configured endpoint (garbage, or an endpoint removed from the config): the primary,
    // and the value is kept for `endpoint list` and the guard's "data invalid" finding.
    this.active = this.primary;
    this.activeSource = "default";
    this.invalid = v;
  }

  private now(): number {
    return (this.opts.clock ?? Date.now)();
  }
}
