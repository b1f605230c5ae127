// The configuration's schemas: the YAML file (TRADEGUARD_CONFIG) and the environment (the contract names). Parsed
// once by loadConfig (src/config.ts); every bad value is reported naming its key.
import cron from "node-cron";
import { z } from "zod";
import { redisSectionSchema, redisUrlSchema } from "./config-redis.js";
import { secretsSchema } from "./config-secrets.js";

const slackUserId = z.string().min(1);
const roleList = z.array(z.union([z.literal("*"), slackUserId]));

const paperBroker = z.object({
  name: z.string().regex(/^[a-z0-9_-]+$/i),
  kind: z.literal("paper"),
  /** Simulated latency of every call, for drills and benchmarks. */
  latency_ms: z.number().int().min(0).max(60_000).default(0),
});

/** A broker endpoint as compared everywhere (config, the Redis flag, `tradeguard endpoint use`): no trailing slash. */
export function normaliseEndpoint(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

/**
 * `endpoints: [primary, backup…]` (failover order; the endpoint_latency guard moves to the next healthy one). Distinct
 * after normalisation; `origin` (ccxt): scheme://host[:port] only, because ccxt's own paths are kept.
 */
function endpointList(opts: { origin: boolean }) {
  return z
    .array(
      z.url({ protocol: /^https?$/ }).refine((u) => {
        if (!opts.origin) return true;
        const p = new URL(u);
        return (p.pathname === "/" || p.pathname === "") && !p.search && !p.hash;
      }, "an origin: scheme://host[:port], without a path"),
    )
    .min(1)
    .max(8)
    .refine((l) => new Set(l.map(normaliseEndpoint)).size === l.length, "each endpoint once")
    .optional();
}

const alpacaBroker = z
  .object({
    name: z.string().regex(/^[a-z0-9_-]+$/i),
    kind: z.literal("alpaca"),
    /** The single-endpoint form; with `endpoints` it may be left out (it is then the primary). */
    base_url: z.url().optional(),
    endpoints: endpointList({ origin: false }),
    key_id_env: z.string().default("APCA_API_KEY_ID"),
    /** Name of the credential in the secret store: the broker is then *managed* (rotatable), env vars unused. */
    secret: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, "letters, digits, . _ - (1-64)")
      .optional(),
    secret_key_env: z.string().default("APCA_API_SECRET_KEY"),
  })
  .refine(
    (b) =>
      !b.base_url ||
      !b.endpoints ||
      normaliseEndpoint(b.base_url).replace(/\/v2$/, "") === normaliseEndpoint(b.endpoints[0]!).replace(/\/v2$/, ""),
    { message: "base_url and endpoints[0] (the primary) differ: keep one", path: ["base_url"] },
  )
  .transform((b) => ({ ...b, base_url: b.base_url ?? b.endpoints?.[0] ?? "https://paper-api.alpaca.markets" }));

const ccxtBroker = z.object({
  name: z.string().regex(/^[a-z0-9_-]+$/i),
  kind: z.literal("ccxt"),
  /** ccxt exchange id, e.g. "binanceusdm", "bybit", "okx". */
  exchange: z.string().min(1),
  api_key_env: z.string().optional(),
  /** Name of the credential in the secret store: the broker is then *managed* (rotatable), env vars unused. */
  secret: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "letters, digits, . _ - (1-64)")
    .optional(),
  secret_env: z.string().optional(),
  password_env: z.string().optional(),
  sandbox: z.boolean().default(false),
  /** Extra ccxt constructor options (e.g. defaultType). */
  options: z.record(z.string(), z.unknown()).default({}),
  /** Symbols to cancel on when the exchange cannot cancel all symbols at once. */
  symbols: z.array(z.string()).default([]),
  /** API origins in failover order: requests ccxt sends to any of them go to the active one (the first: primary). */
  endpoints: endpointList({ origin: true }),
});

export const brokerConfigSchema = z.discriminatedUnion("kind", [paperBroker, alpacaBroker, ccxtBroker]);
export type BrokerConfig = z.infer<typeof brokerConfigSchema>;

const cronExpr = z.string().refine((x) => cron.validate(x), "a cron expression");

/** YAML `dr:` — DR restore rehearsals (`tradeguard dr rehearse`) and their monthly reminder. */
export const drSchema = z
  .object({
    /** The scratch Redis a rehearsal restores into: another instance, or another DB (`redis://host:6379/15`). */
    scratch_url: z
      .string()
      .regex(/^rediss?:\/\//, "a redis:// or rediss:// URL")
      .optional(),
    /** The monthly reminder to rehearse (node-cron, America/New_York): the 1st of the month at 10:00. */
    reminder_schedule: cronExpr.default("0 10 1 * *"),
    reminder: z.boolean().default(true),
    /** The longest the restore and the compare may take on the scratch Redis (each command, and the whole). */
    timeout_ms: z.number().int().min(1_000).max(600_000).default(30_000),
    /** Leave the restored keys in the scratch Redis for inspection (default: deleted after the compare). */
    keep_restored: z.boolean().default(false),
  })
  .strict()
  .transform((d) => ({
    scratchUrl: d.scratch_url,
    reminderSchedule: d.reminder_schedule,
    reminder: d.reminder,
    timeoutMs: d.timeout_ms,
    keepRestored: d.keep_restored,
  }))
  .prefault({});
export type DrSettings = z.output<typeof drSchema>;

/** An asset class name as in `cutover:<asset_class>` (the names the requests' keys use are reserved). */
const assetClass = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,31}$/, "lowercase letters, digits and _ (e.g. equities)")
  .refine((s) => s !== "request" && s !== "pending", "a reserved name");
/** One gate of the cutover checklist: its settings, or `false` to leave it off the checklist (said so by `check`). */
function gate<T extends z.ZodRawShape>(shape: T) {
  const settings = z.object(shape).strict();
  // Every setting of a gate has a default, so `{}` is a complete input (the generic hides that from the type).
  return z.union([z.literal(false), settings]).prefault({} as z.input<typeof settings>);
}

/** YAML `cutover:` — the go/no-go checklist for enabling an asset class (`tradeguard cutover`). */
export const cutoverSchema = z
  .object({
    asset_classes: z.array(assetClass).min(1).default(["equities"]),
    approvals: z.number().int().min(1).max(10).default(1),
    request_ttl_minutes: z
      .number()
      .positive()
      .max(7 * 24 * 60)
      .default(60),
    gates: z
      .object({
        /** Every broker's latest recon ok, for a trade date at most this many trading days before the last close. */
        recon: gate({ max_trading_days_behind: z.number().int().min(0).max(10).default(1) }),
        /** A successful DR rehearsal at most this old, and no failed one since. */
        dr_rehearsal: gate({ max_age_days: z.number().positive().max(365).default(35) }),
        /** The time_sync guard ran recently and is ok. */
        time_sync: gate({}),
        /** Every exchange's 15-minute quota use strictly under this share. */
        quotas: gate({ max_used_pct: z.number().gt(0).max(100).default(80) }),
        /** Every SLO's budget left strictly above this share (0: not exhausted). */
        error_budgets: gate({ min_left_pct: z.number().min(0).lt(100).default(0) }),
        /** No open critical alert. */
        alerts: gate({}),
        /** No managed key older than rotation.max_age_days. */
        key_rotation: gate({}),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .transform((c) => ({
    assetClasses: c.asset_classes,
    approvals: c.approvals,
    requestTtlMinutes: c.request_ttl_minutes,
    gates: {
      recon: c.gates.recon && { maxTradingDaysBehind: c.gates.recon.max_trading_days_behind },
      dr_rehearsal: c.gates.dr_rehearsal && { maxAgeDays: c.gates.dr_rehearsal.max_age_days },
      time_sync: c.gates.time_sync && {},
      quotas: c.gates.quotas && { maxUsedPct: c.gates.quotas.max_used_pct },
      error_budgets: c.gates.error_budgets && { minLeftPct: c.gates.error_budgets.min_left_pct },
      alerts: c.gates.alerts && {},
      key_rotation: c.gates.key_rotation && {},
    },
  }))
  .prefault({});
export type CutoverSettings = z.output<typeof cutoverSchema>;

export const yamlSchema = z
  .object({
    roles: z
      .object({
        panic: roleList.optional(),
        clear: roleList.optional(),
        approve: roleList.optional(),
        rotate: roleList.optional(),
      })
      .strict()
      .default({}),
    brokers: z.array(brokerConfigSchema).default([]),
    approvals: z
      .object({
        clear: z.number().int().min(1).max(10).default(1),
        rotate: z.number().int().min(1).max(10).default(1),
      })
      .strict()
      .default({ clear: 1, rotate: 1 }),
    /** Where managed brokers' credentials live (src/secrets). */
    secrets: secretsSchema.optional(),
    recon: z
      .object({
        /** The daily recon (node-cron, America/New_York; it runs only on NYSE trading days). */
        schedule: z
          .string()
          .refine((x) => cron.validate(x), "a cron expression")
          .default("30 17 * * *"),
        enabled: z.boolean().default(true),
      })
      .strict()
      .default({ schedule: "30 17 * * *", enabled: true }),
    rotation: z
      .object({
        /** A CURRENT key older than this is due for rotation (warn alert + a rotation request). */
        max_age_days: z.number().int().min(1).max(365).default(7),
        /** When the weekly check runs (node-cron, America/New_York): Sunday 02:00. */
        schedule: z
          .string()
          .refine((s) => cron.validate(s), "a cron expression")
          .default("0 2 * * 0"),
        /** How long a rotation request waits for approval. */
        request_ttl_minutes: z
          .number()
          .positive()
          .max(7 * 24 * 60)
          .default(24 * 60),
      })
      .strict()
      .default({ max_age_days: 7, schedule: "0 2 * * 0", request_ttl_minutes: 24 * 60 }),
    resume: z
      .object({
        soak_minutes: z
          .number()
          .min(0)
          .max(24 * 60)
          .default(5),
        request_ttl_minutes: z
          .number()
          .positive()
          .max(24 * 60)
          .default(15),
      })
      .strict()
      .default({ soak_minutes: 5, request_ttl_minutes: 15 }),
    panic: z
      .object({
        /** Total deadline for the broker work of one panic. */
        deadline_ms: z.number().int().min(1000).max(600_000).default(30_000),
        /** Per-call timeout for broker HTTP requests. */
        call_timeout_ms: z.number().int().min(100).max(120_000).default(5_000),
        snapshot_dir: z.string().optional(),
        s3: z
          .object({
            bucket: z.string().min(1),
            prefix: z.string().default("tradeguard/snapshots/"),
            region: z.string().default("us-east-1"),
            endpoint: z.url().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ deadline_ms: 30_000, call_timeout_ms: 5_000 }),
    runbook_url: z.url().optional(),
    /** Sentinel, TLS, credentials (by env var name) and the halt's replication (src/config-redis.ts). */
    redis: redisSectionSchema,
    dr: drSchema,
    cutover: cutoverSchema,
    /** How the guard runner shares ticks across bot replicas (src/jobs/runner/lease.ts). */
    guard_runner: z
      .object({
        /** A tick's lease: renewed every third of it while the tick runs; a killed holder's slot is taken over once
         * it lapses. Shorter: a crash is noticed sooner; it must outlast a stall of the event loop or of Redis. */
        lease_ms: z.number().int().min(200).max(60_000).default(2_000),
      })
      .strict()
      .default({ lease_ms: 2_000 }),
    /** Validated per guard against each guard's own schema (see GuardSpec), after this parse. */
    guards: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export const envSchema = z.object({
  TRADEGUARD_CONFIG: z.string().optional(),
  TRADEGUARD_HOME: z.string().optional(),
  /** One server, or the `redis+sentinel://` form (src/config-redis.ts). */
  REDIS_URL: redisUrlSchema,
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]*$/, "letters, digits and : _ . - only")
    .default(""),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  SLACK_BOT_TOKEN: z
    .string()
    .regex(/^xoxb-/, "a bot token starting with xoxb-")
    .optional(),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-/, "an app-level token starting with xapp-")
    .optional(),
  SLACK_API_URL: z.url().optional(),
  SLACK_ALERT_CHANNEL: z.string().min(1).optional(),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  AUDIT_KEY_FILE: z.string().min(1).optional(),
  AUDIT_FILE: z.string().min(1).optional(),
  LOG_LEVEL: logLevel.default("info"),
  APCA_API_KEY_ID: z.string().min(1).optional(),
  APCA_API_SECRET_KEY: z.string().min(1).optional(),
  APCA_API_BASE_URL: z.url().optional(),
});

/** Formats zod issues as "<source> <key>: <message>" lines (or "<source>.<key>: …" with `join` ".") */
export function formatIssues(source: string, error: z.ZodError, join = " "): string {
  return error.issues
    .map((i) => {
      if (join === ".") return `${source}${i.path.length ? `.${i.path.join(".")}` : ""}: ${i.message}`;
      const key = i.path.length ? i.path.join(".") : "(root)";
      return `${source} ${key}: ${i.message}`;
    })
    .join("\n");
}
