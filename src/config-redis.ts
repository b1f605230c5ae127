// How tradeguard reaches Redis: one server (REDIS_URL, `redis://` or `rediss://`), or a primary managed by Redis
// Sentinel — the YAML `redis: { sentinels, name, … }` section or the URL form
// `redis+sentinel://[user:password@]host1:26379,host2:26379/<name>[/<db>]` (`rediss+sentinel://` with TLS). Secrets
// never live in the YAML: it names the environment variables that hold them (`password_env`,
// `sentinel_password_env`), and the resolved passwords are non-enumerable, so no serialised config or log line
// carries them. Also the replication settings of the halt (`redis.replication`, docs/redis-keys.md "Failover").
// Pure parsing: the ioredis options are built from these settings in src/state/redis.ts.

import {
  type HostPort,
  parseHostPort,
  parseSentinelUrl,
  type SentinelUrl,
  sentinelDisplayUrl,
} from "@tradeguard/gate/redis-url";
import { z } from "zod";

/** TLS for the Redis connections: the files are read when a client is created (src/state/redis.ts). */
export interface TlsSettings {
  /** PEM file of the CA(s) to trust instead of the system's (a private CA). */
  caFile?: string;
  /** Client certificate and key (PEM) when the servers require mutual TLS (`tls-auth-clients yes`). */
  certFile?: string;
  keyFile?: string;
  /** The name the server's certificate must carry when it differs from the host connected to. */
  servername?: string;
  /** False only to accept any certificate (a test rig): never in production. */
  rejectUnauthorized: boolean;
}

/** Where and how to connect: what createRedis (src/state/redis.ts) and the gate need. */
export interface RedisTarget {
  /**
   * REDIS_URL for one server (it may carry a password: mask it when showing it); with Sentinel a form without
   * credentials, `redis+sentinel://host:port,…/<name>`, for messages and logs.
   */
  url: string;
  /** The Sentinel deployment, or null for one server at `url`. */
  sentinel: { sentinels: HostPort[]; name: string; db: number; failoverDetector: boolean } | null;
  /** ACL user of the data nodes (with Sentinel; a URL carries its own). */
  username?: string;
  sentinelUsername?: string;
  /** TLS to the data nodes (null: plain TCP; a `rediss://` URL sets it). */
  tls: TlsSettings | null;
  /** TLS to the sentinels (default: as `tls`). */
  sentinelTls: TlsSettings | null;
  /** Non-enumerable: the data nodes' password (from `password_env`, or the URL). */
  readonly password?: string;
  /** Non-enumerable: the sentinels' password (from `sentinel_password_env`). */
  readonly sentinelPassword?: string;
}

/** What the operations do after a mode change on a primary that has replicas (docs/redis-keys.md, "Failover"). */
export interface ReplicationSettings {
  /** Replicas that must acknowledge a halt (`WAIT <replicas> <waitMs>`). */
  replicas: number;
  /** WAIT's timeout, each time it is asked. */
  waitMs: number;
  /** How long a panic waits at its end for its halt to be confirmed on a primary (replicated or re-asserted). */
  confirmMs: number;
  /** How long a long-running process (the bot) keeps re-asserting an unconfirmed halt after the report. */
  watchMs: number;
}

/** `config.redis`: the connection plus the key prefix and the replication settings. */
export interface RedisSettings extends RedisTarget {
  prefix: string;
  replication: ReplicationSettings;
}

const URL_FORMS = "a redis://, rediss://, redis+sentinel:// or rediss+sentinel:// URL";
/** REDIS_URL (env). */
export const redisUrlSchema = z
  .string()
  .regex(/^rediss?(\+sentinel)?:\/\//, URL_FORMS)
  .default("redis://127.0.0.1:6379");

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "the name of an environment variable");
const noSecret = (envKey: string) =>
  z.undefined({ error: `secrets are never in the YAML: put it in an environment variable and name it in ${envKey}` });
const tlsSchema = z.union([
  z.boolean(),
  z
    .object({
      ca_file: z.string().min(1).optional(),
      cert_file: z.string().min(1).optional(),
      key_file: z.string().min(1).optional(),
      servername: z.string().min(1).optional(),
      reject_unauthorized: z.boolean().default(true),
    })
    .strict()
    .refine((t) => !t.cert_file === !t.key_file, "cert_file and key_file go together (mutual TLS)"),
]);

/** The YAML `redis:` section (docs: README "Configuration", RUNBOOK "Redis failover"). */
export const redisSectionSchema = z
  .object({
    /** Sentinel addresses, "host:port" (26379 when left out). */
    sentinels: z
      .array(z.string().refine((s) => parseHostPort(s, 26379) !== null, "host:port (e.g. sentinel-1:26379)"))
      .min(1)
      .max(16)
      .optional(),
    /** The master group name the sentinels monitor (`sentinel monitor <name> …`). */
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, "letters, digits, . _ - (1-64)")
      .optional(),
    db: z.number().int().min(0).max(255).default(0),
    username: z.string().min(1).optional(),
    password_env: envName.optional(),
    password: noSecret("redis.password_env").optional(),
    sentinel_username: z.string().min(1).optional(),
    sentinel_password_env: envName.optional(),
    sentinel_password: noSecret("redis.sentinel_password_env").optional(),
    tls: tlsSchema.default(false),
    /** TLS to the sentinels; default: as `tls`. */
    sentinel_tls: tlsSchema.optional(),
    /**
     * ioredis's failover detector: also listen to the sentinels' +switch-master, so a client still on a primary that
     * was replaced (a partition) moves at once. Off by default (ioredis's default): without it clients move when
     * their primary dies, refuses a write (READONLY) or is reconfigured by Sentinel (which drops its clients).
     */
    failover_detector: z.boolean().default(false),
    replication: z
      .object({
        replicas: z.number().int().min(1).max(16).default(1),
        // Below the client's 5 s command timeout (src/state/redis.ts): a longer WAIT would always be given up on.
        wait_ms: z.number().int().min(1).max(4_000).default(1_000),
        confirm_ms: z.number().int().min(0).max(600_000).default(15_000),
        watch_ms: z.number().int().min(0).max(86_400_000).default(300_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((r) => !r.sentinels === !r.name, { message: "sentinels and name go together", path: ["name"] })
  .prefault({});
export type RedisSection = z.output<typeof redisSectionSchema>;

function tlsOf(t: z.output<typeof tlsSchema> | undefined): TlsSettings | null | undefined {
  if (t === undefined) return undefined;
  if (t === false) return null;
  if (t === true) return { rejectUnauthorized: true };
  return {
    caFile: t.ca_file,
    certFile: t.cert_file,
    keyFile: t.key_file,
    servername: t.servername,
    rejectUnauthorized: t.reject_unauthorized,
  };
}

/** Sets `password` / `sentinelPassword` on `t` as non-enumerable properties (never serialised, never logged). */
export function withSecrets<T extends object>(t: T, secrets: { password?: string; sentinelPassword?: string }): T {
  for (const [k, v] of Object.entries(secrets))
    if (v !== undefined) Object.defineProperty(t, k, { value: v, enumerable: false });
  return t;
}

/**
 * The Redis settings from REDIS_URL (`envUrl`, undefined when not set), the parsed YAML section and the environment
 * (for the variables `*_env` name). Throws an Error naming the key when they contradict each other or a named
 * variable is empty.
 */
export function resolveRedis(
  section: RedisSection,
  envUrl: string | undefined,
  env: Record<string, string | undefined>,
  prefix: string,
): RedisSettings {
  const url = envUrl ?? "redis://127.0.0.1:6379";
  const secret = (key: string, name: string | undefined) => {
    if (!name) return undefined;
    const v = env[name];
    if (!v) throw new Error(`redis.${key}: the environment variable ${name} is not set`);
    return v;
  };
  const password = secret("password_env", section.password_env);
  const sentinelPassword = secret("sentinel_password_env", section.sentinel_password_env);
  const replication: ReplicationSettings = {
    replicas: section.replication.replicas,
    waitMs: section.replication.wait_ms,
    confirmMs: section.replication.confirm_ms,
    watchMs: section.replication.watch_ms,
  };
  const tls = tlsOf(section.tls) ?? null;
  let fromUrl: SentinelUrl | null = null;
  if (/^rediss?\+sentinel:/.test(url)) {
    try {
      fromUrl = parseSentinelUrl(url);
    } catch (err) {
      throw new Error(`env REDIS_URL: ${(err as Error).message}`);
    }
  }
  if (section.sentinels && envUrl !== undefined)
    throw new Error("redis.sentinels and env REDIS_URL both say where Redis is: keep one");
  if (!section.sentinels && !fromUrl) {
    if (section.username) throw new Error("redis.username: with one server, put the user in REDIS_URL");
    if (password && /\/\/[^@/]*:[^@/]*@/.test(url))
      throw new Error("redis.password_env and a password in REDIS_URL: keep one");
    const urlTls = url.startsWith("rediss:");
    const t = tls ?? (urlTls ? { rejectUnauthorized: true } : null);
    return withSecrets(
      { url, prefix, sentinel: null, tls: t, sentinelTls: null, replication },
      { password, sentinelPassword },
    );
  }
  const s = fromUrl ?? {
    tls: false,
    sentinels: section.sentinels!.map((h) => parseHostPort(h, 26379)!),
    name: section.name!,
    db: section.db,
  };
  if (fromUrl?.password && password) throw new Error("redis.password_env and a password in REDIS_URL: keep one");
  const dataTls = tls ?? (s.tls ? { rejectUnauthorized: true } : null);
  const sentinelTls = tlsOf(section.sentinel_tls);
  const target = {
    url: sentinelDisplayUrl(s, dataTls !== null),
    prefix,
    sentinel: { sentinels: s.sentinels, name: s.name, db: s.db, failoverDetector: section.failover_detector },
    ...(fromUrl?.username || section.username ? { username: fromUrl?.username ?? section.username } : {}),
    ...(section.sentinel_username ? { sentinelUsername: section.sentinel_username } : {}),
    tls: dataTls,
    sentinelTls: sentinelTls === undefined ? dataTls : sentinelTls,
    replication,
  };
  return withSecrets(target, { password: password ?? fromUrl?.password, sentinelPassword });
}
