// Configuration: environment variables (the contract names below) plus an optional YAML file named by
// TRADEGUARD_CONFIG. Parsed once at start-up; a bad value stops the process naming the key and what was expected.
import { readFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import cron from "node-cron";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { type SecretsSettings, secretsSchema } from "./config-secrets.js";
import { ConfigError } from "./errors.js";

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

const yamlSchema = z
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

/**
 * What configuration needs to know of a guard: its name, default schedule and settings schema, and — for a guard
 * that watches something the desk must declare (a policy daemon, NTP servers) — the settings that declare it.
 * Guards (src/jobs) satisfy this structurally; config does not depend on the guard engine.
 */
export interface GuardSpec {
  name: string;
  schedule: string;
  config: z.ZodType;
  /** The guard stays off ("not configured") until a setting of its own (or `enabled: true`) is set; `hint` says how. */
  requires?: { hint: string };
}

/** One guard's parsed settings. */
export interface GuardSettings {
  enabled: boolean;
  schedule: string;
  timeoutMs: number;
  /** Null when the guard can run; otherwise why it is off ("not configured — set guards.time_sync.servers …"). */
  notConfigured: string | null;
  /** The guard's own settings, parsed by its schema (defaults applied). */
  settings: unknown;
}

const guardCommon = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z
      .string()
      .refine((s) => cron.validate(s), "a cron expression (node-cron, optional seconds field)")
      .optional(),
    timeout_ms: z.number().int().min(10).max(600_000).default(10_000),
  })
  .passthrough();

/** Parses `guards.<name>` for every known guard (unknown names are an error), naming the key of any bad value. */
export function parseGuardSettings(raw: Record<string, unknown>, specs: readonly GuardSpec[], source: string) {
  const known = new Map(specs.map((g) => [g.name, g]));
  for (const name of Object.keys(raw)) {
    if (!known.has(name))
      throw new ConfigError(`${source} guards.${name}: unknown guard (known: ${[...known.keys()].join(", ")})`);
  }
  const out: Record<string, GuardSettings> = {};
  for (const g of specs) {
    const section = raw[g.name] ?? {};
    const common = guardCommon.safeParse(section);
    if (!common.success)
      throw new ConfigError(`invalid configuration:\n${formatIssues(`${source} guards.${g.name}`, common.error, ".")}`);
    const { enabled, schedule, timeout_ms, ...own } = common.data;
    const parsed = g.config.safeParse(own);
    if (!parsed.success)
      throw new ConfigError(`invalid configuration:\n${formatIssues(`${source} guards.${g.name}`, parsed.error, ".")}`);
    // Any setting of the guard's own (or `enabled: true`) declares what it watches: only an untouched guard is off.
    const declared = !g.requires || enabled === true || Object.keys(own).length > 0;
    out[g.name] = {
      enabled: enabled ?? true,
      schedule: schedule ?? g.schedule,
      timeoutMs: timeout_ms,
      notConfigured: declared || !g.requires ? null : `not configured — ${g.requires.hint}`,
      settings: parsed.data,
    };
  }
  return out;
}

const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

const envSchema = z.object({
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

export type Role = "panic" | "clear" | "approve" | "rotate";

/** The parsed, validated configuration every module receives from the composition root. */
export interface Config {
  mode: "local" | "slack-http" | "slack-socket";
  home: string;
  redis: { url: string; prefix: string };
  slack: {
    signingSecret?: string;
    botToken?: string;
    appToken?: string;
    apiUrl?: string;
    alertChannel?: string;
  };
  http: { host: string; port: number };
  audit: { keyFile: string; file: string };
  logLevel: z.infer<typeof logLevel>;
  roles: Record<Role, string[]>;
  brokers: BrokerConfig[];
  approvals: { clear: number; rotate: number };
  /** The secret store's settings (local by default). */
  secrets: SecretsSettings;
  rotation: { maxAgeDays: number; schedule: string; requestTtlMinutes: number };
  resume: { soakMinutes: number; requestTtlMinutes: number };
  panic: {
    deadlineMs: number;
    callTimeoutMs: number;
    snapshotDir: string;
    s3?: { bucket: string; prefix: string; region: string; endpoint?: string };
  };
  runbookUrl?: string;
  /** Every known guard's settings, parsed once here. */
  guards: Record<string, GuardSettings>;
  /** Secrets read from env for the brokers (kept out of the YAML). */
  env: Record<string, string | undefined>;
}

function formatIssues(source: string, error: z.ZodError, join = " "): string {
  return error.issues
    .map((i) => {
      if (join === ".") return `${source}${i.path.length ? `.${i.path.join(".")}` : ""}: ${i.message}`;
      const key = i.path.length ? i.path.join(".") : "(root)";
      return `${source} ${key}: ${i.message}`;
    })
    .join("\n");
}

/**
 * Parses env (+ the YAML file it names) into a Config, or throws ConfigError naming every bad key. `guards` are the
 * guards whose settings `guards.<name>` may hold (the composition root passes every registered guard).
 */
export function loadConfig(env: Record<string, string | undefined>, guards: readonly GuardSpec[]): Config {
  const clean = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const envResult = envSchema.safeParse(clean);
  if (!envResult.success) throw new ConfigError(`invalid configuration:\n${formatIssues("env", envResult.error)}`);
  const e = envResult.data;

  let raw: unknown = {};
  if (e.TRADEGUARD_CONFIG) {
    let text: string;
    try {
      text = readFileSync(e.TRADEGUARD_CONFIG, "utf8");
    } catch (err) {
      throw new ConfigError(`TRADEGUARD_CONFIG: cannot read ${e.TRADEGUARD_CONFIG}: ${(err as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`TRADEGUARD_CONFIG: ${e.TRADEGUARD_CONFIG} is not valid YAML: ${(err as Error).message}`);
    }
  }
  const yamlResult = yamlSchema.safeParse(raw);
  if (!yamlResult.success) {
    throw new ConfigError(`invalid configuration:\n${formatIssues(e.TRADEGUARD_CONFIG ?? "yaml", yamlResult.error)}`);
  }
  const y = yamlResult.data;

  let mode: Config["mode"] = "local";
  if (e.SLACK_BOT_TOKEN) {
    if (e.SLACK_APP_TOKEN) mode = "slack-socket";
    else if (e.SLACK_SIGNING_SECRET) mode = "slack-http";
    else
      throw new ConfigError(
        "env SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN (or set SLACK_APP_TOKEN for Socket Mode)",
      );
  } else if (e.SLACK_APP_TOKEN) {
    throw new ConfigError("env SLACK_BOT_TOKEN: required when SLACK_APP_TOKEN is set");
  }

  // Local mode: whoever has a shell on this machine is trusted; in Slack mode only panic is open by default.
  const openByDefault = mode === "local" ? ["*"] : [];
  const roles: Record<Role, string[]> = {
    panic: y.roles.panic ?? ["*"],
    clear: y.roles.clear ?? openByDefault,
    approve: y.roles.approve ?? openByDefault,
    rotate: y.roles.rotate ?? openByDefault,
  };

  const brokers: BrokerConfig[] = [...y.brokers];
  if (e.APCA_API_KEY_ID || e.APCA_API_SECRET_KEY || e.APCA_API_BASE_URL) {
    if (!e.APCA_API_KEY_ID || !e.APCA_API_SECRET_KEY) {
      throw new ConfigError("env APCA_API_KEY_ID / APCA_API_SECRET_KEY: both are required to add the alpaca broker");
    }
    if (brokers.some((b) => b.name === "alpaca")) {
      throw new ConfigError("brokers: a broker named alpaca is configured in YAML and by APCA_* env; keep one");
    }
    brokers.push({
      name: "alpaca",
      kind: "alpaca",
      base_url: e.APCA_API_BASE_URL ?? "https://paper-api.alpaca.markets",
      key_id_env: "APCA_API_KEY_ID",
      secret_key_env: "APCA_API_SECRET_KEY",
    });
  }
  if (brokers.length === 0) brokers.push({ name: "paper", kind: "paper", latency_ms: 0 });
  const names = new Set<string>();
  for (const b of brokers) {
    if (names.has(b.name)) throw new ConfigError(`brokers: duplicate broker name ${b.name}`);
    names.add(b.name);
  }

  const home = resolve(e.TRADEGUARD_HOME ?? join(homedir(), ".tradeguard"));
  const config: Config = {
    mode,
    home,
    redis: { url: e.REDIS_URL, prefix: e.REDIS_PREFIX },
    slack: {
      signingSecret: e.SLACK_SIGNING_SECRET,
      botToken: e.SLACK_BOT_TOKEN,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: e.SLACK_API_URL,
      alertChannel: e.SLACK_ALERT_CHANNEL,
    },
    http: { host: e.HOST, port: e.PORT },
    audit: {
      keyFile: resolve(e.AUDIT_KEY_FILE ?? join(home, "audit-key.pem")),
      file: resolve(e.AUDIT_FILE ?? join(home, "audit.jsonl")),
    },
    logLevel: e.LOG_LEVEL,
    roles,
    brokers,
    approvals: { clear: y.approvals.clear, rotate: y.approvals.rotate },
    secrets: y.secrets ?? secretsSchema.parse({}),
    rotation: {
      maxAgeDays: y.rotation.max_age_days,
      schedule: y.rotation.schedule,
      requestTtlMinutes: y.rotation.request_ttl_minutes,
    },
    resume: { soakMinutes: y.resume.soak_minutes, requestTtlMinutes: y.resume.request_ttl_minutes },
    panic: {
      deadlineMs: y.panic.deadline_ms,
      callTimeoutMs: y.panic.call_timeout_ms,
      snapshotDir: resolve(y.panic.snapshot_dir ?? join(home, "snapshots")),
      s3: y.panic.s3,
    },
    runbookUrl: y.runbook_url,
    guards: parseGuardSettings(y.guards, guards, e.TRADEGUARD_CONFIG ?? "yaml"),
    env: {},
  };
  // The raw environment carries broker secrets: not enumerable, so it never lands in a serialised config or log.
  Object.defineProperty(config, "env", { value: clean, enumerable: false });
  return config;
}

/** A copy of the config safe to log or print: no secret values. */
export function redactedConfig(c: Config): Record<string, unknown> {
  const mask = (v?: string) => (v ? "[redacted]" : undefined);
  // JSON round trip: drops unset fields, so the log shows which secrets are configured (as [redacted]) and which are not.
  return JSON.parse(
    JSON.stringify({
      ...c,
      slack: {
        ...c.slack,
        signingSecret: mask(c.slack.signingSecret),
        botToken: mask(c.slack.botToken),
        appToken: mask(c.slack.appToken),
      },
      redis: { ...c.redis, url: c.redis.url.replace(/\/\/[^@/]*@/, "//[redacted]@") },
      env: undefined,
    }),
  );
}

/** The identity of a CLI user in the audit log and role checks. */
export function cliActor(): string {
  let name = process.env.SUDO_USER || process.env.USER;
  if (!name) {
    try {
      name = userInfo().username;
    } catch {
      name = "unknown";
    }
  }
  return `cli:${name}`;
}
