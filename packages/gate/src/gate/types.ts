// The gate's public types: its options, what it believes (GateView) and the Gate a trading process holds. Apart
// from index.ts so the implementation (gate-impl.ts) can use them without importing the entry module.
import type { ConnectionOptions } from "node:tls";
import type { Redis } from "ioredis";
import type { PdtRegime } from "../market/pdt.js";
import type { Mode } from "../state/keys.js";
import type { CheckResult, OrderCheck } from "./decide-types.js";
import type { GateFlags } from "./flags.js";

export interface GateOptions {
  /** An ioredis client for reads (the gate duplicates it for its subscriber and never closes it). */
  redis?: Redis;
  /**
   * Or a Redis URL (default REDIS_URL, then redis://127.0.0.1:6379): `redis://`, `rediss://` (TLS), or the Sentinel
   * form `redis+sentinel://[user:password@]host:26379,host2:26379/<name>[/<db>]`; the gate then owns both connections.
   */
  url?: string;
  /**
   * Or Redis Sentinel: the sentinels ("host:port", or {host, port}) and `name`, the master group they monitor. The gate
   * reads and subscribes on the primary they name, and follows it through a failover (docs/gate.md, "Failover").
   */
  sentinels?: (string | { host: string; port: number })[];
  /** The master group name (`sentinel monitor <name> …`), with `sentinels`. */
  name?: string;
  /** Database number (with `sentinels`; a URL carries its own). Default 0. */
  db?: number;
  /** ACL user and password of the Redis data nodes (with `sentinels`, or to add a password to `url`). */
  username?: string;
  password?: string;
  /** ACL user and password of the sentinels, when they require one. */
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** TLS to the data nodes: true (system CAs) or node:tls options (`ca`, `cert`, `key`, `servername`…). */
  tls?: boolean | ConnectionOptions;
  /** TLS to the sentinels. Default: as `tls`. */
  sentinelTls?: boolean | ConnectionOptions;
  /**
   * ioredis's failover detector: also subscribe to the sentinels' `+switch-master`, so a connection left on a primary
   * that was replaced (a partition) moves at once. Default false (ioredis's default).
   */
  failoverDetector?: boolean;
  /** REDIS_PREFIX of the tradeguard deployment (default the REDIS_PREFIX environment variable, else ""). */
  prefix?: string;
  /** Dead-man's switch: heartbeat:bot older than this → reduce-only. Default 15 000 (three missed 5 s beats). */
  heartbeatMaxAgeMs?: number;
  /**
   * Dead-man's switch: heartbeat:bot more than this ahead of the gate's clock is invalid → reduce-only (a heartbeat
   * from the future, e.g. year 2100, proves nothing about a bot alive now). Default 5 000 (clock skew; keep NTP on).
   */
  heartbeatMaxSkewMs?: number;
  /** Poll of mode + heartbeat. Default 1 000. */
  pollMs?: number;
  /** Full re-read of every flag. Default 10 000 (also on every `flags` message and reconnect). */
  refreshMs?: number;
  /** No successful read for this long → Redis treated as unreachable. Default 5 000. */
  maxStalenessMs?: number;
  /**
   * No successful FULL re-read for this long (while the poll of mode + heartbeat may still succeed) → the flags are
   * stale: the gate fails safe as if Redis were unreachable, with reason `flags_stale`. Default
   * 2 × refreshMs + maxStalenessMs.
   */
  flagsMaxAgeMs?: number;
  /** Redis unreachable → "halt" (default, docs/redis-keys.md) or "reduce_only". */
  redisDownMode?: "halt" | "reduce_only";
  /** A national best bid older than this is not used for the Rule 201 price test. Default 2 000. */
  quoteMaxAgeMs?: number;
  /** FINRA 4210(f)(8)(B) day-trade counting, or the 2026 intraday margin standard. Default "pdt_4210". */
  pdtRegime?: PdtRegime;
  /** Brokers the US equity market rules apply to (hours, LULD, SSR, locate, PDT). Default: all brokers. */
  marketRulesBrokers?: string[];
  /** Allow orders outside the NYSE regular session. Default false. */
  allowExtendedHours?: boolean;
  /** An account (of a market-rules broker) without a `pdt` record may not add exposure. Default true. */
  pdtRequired?: boolean;
  /** Maximum age of a `pdt` record's `updated_at` under "pdt_4210". Default 86 400 000 (24 h). */
  pdtMaxAgeMs?: number;
  /** Maximum age of a `pdt` record's `updated_at` under "intraday_margin". Default 900 000 (15 min). */
  intradayMaxAgeMs?: number;
  /**
   * Asset classes whose opening orders are refused (`asset_class_disabled`) until `cutover:<class>` says the class is
   * cut over (`tradeguard cutover enable <class>`). With any listed, an opening order must name its `assetClass`
   * (`asset_class_missing` otherwise). Lowercase names, e.g. ["equities"]. Default [] (no cutover enforced).
   */
  cutoverAssetClasses?: string[];
  /** How long `createGate` waits for the first read before returning a gate that refuses (and keeps trying). */
  readyTimeoutMs?: number;
  /** Clock (epoch ms); tests pass one in. */
  now?: () => number;
  /** Called after the flags changed (a message arrived or a read found a difference). */
  onChange?: (why: string) => void;
}

/** What the gate believes now (for logs, health endpoints and tests). */
export interface GateView {
  loaded: boolean;
  /** Null when the gate trusts its copy of the flags; otherwise why not. */
  down: string | null;
  /** The reason code check() gives while `down` is set: Redis unreachable, or the full re-read failing. */
  downCode: "redis_unreachable" | "flags_stale" | null;
  mode: Mode;
  /** The mode check() applies: the strictest of mode, Redis state and the dead-man's switch. */
  effectiveMode: Mode;
  modeReason: string | null;
  /**
   * Set while the gate holds a halt Redis no longer shows (a looser mode that does not descend from the halt it saw:
   * the halt may have been lost in a failover), saying so; null otherwise.
   */
  heldHalt: string | null;
  heartbeatAgeMs: number | null;
  deadMansSwitch: boolean;
  /** Last successful read of any kind (poll or full re-read), epoch ms. */
  lastReadAt: number | null;
  /** Last successful full re-read of every flag, epoch ms. */
  lastFullReadAt: number | null;
  /** Keys the last full re-read could not read (applied strictly): key → error. Also in `flags.unreadable`. */
  unreadable: Record<string, string>;
  flags: GateFlags;
}

/** The gate a trading process holds. */
export interface Gate {
  /** Checks one order from the in-process cache (no network). Cancels never need a check. */
  check(order: OrderCheck): CheckResult;
  /** Gives the gate the latest national best bid for a symbol (used by the Rule 201 price test). */
  updateQuote(symbol: string, quote: { bid: number; ask?: number; ts?: number }): void;
  /** The gate's view of the flags. */
  view(): GateView;
  /** Re-reads every flag now. */
  refresh(): Promise<void>;
  /** Stops timers and closes the connections the gate opened. */
  close(): Promise<void>;
}
