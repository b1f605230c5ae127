// The configuration's schemas: the YAML file (TRADEGUARD_CONFIG) and the environment (the contract names). Parsed
// once by loadConfig (src/config.ts); every bad value is reported naming its key.
import cron from "node-cron";
import { z } from "zod";
import { secretsSchema } from "./config-secrets.js";

const slackUserId = z.string().min(1);
const roleList = z.array(z.union([z.literal("*"), slackUserId]));

const paperBroker = z.object({
  name: z.string().regex(/^[a-z0-9_-]+$/i),
  kind: z.literal("paper"),
  /** Simulated latency of every call, for drills and benchmarks. */
  latency_ms: z.number().int().min(0).max(60_000).default(0),
});

const alpacaBroker = z.object({
  name: z.string().regex(/^[a-z0-9_-]+$/i),
  kind: z.literal("alpaca"),
  base_url: z.url().default("https://paper-api.alpaca.markets"),
  key_id_env: z.string().default("APCA_API_KEY_ID"),
  /** Name of the credential in the secret store: the broker is then *managed* (rotatable), env vars unused. */
  secret: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "letters, digits, . _ - (1-64)")
    .optional(),
  secret_key_env: z.string().default("APCA_API_SECRET_KEY"),
});

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
});

export const brokerConfigSchema = z.discriminatedUnion("kind", [paperBroker, alpacaBroker, ccxtBroker]);
export type BrokerConfig = z.infer<typeof brokerConfigSchema>;

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
    /** Validated per guard against each guard's own schema (see GuardSpec), after this parse. */
    guards: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export const envSchema = z.object({
  TRADEGUARD_CONFIG: z.string().optional(),
  TRADEGUARD_HOME: z.string().optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "a redis:// or rediss:// URL")
    .default("redis://127.0.0.1:6379"),
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
