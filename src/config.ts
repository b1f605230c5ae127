// Configuration: environment variables (the contract names below) plus an optional YAML file named by
// TRADEGUARD_CONFIG. Parsed once at start-up; a bad value stops the process naming the key and what was expected.
import { readFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { type GuardSettings, type GuardSpec, parseGuardSettings } from "./config-guards.js";
import { type RedisSettings, resolveRedis } from "./config-redis.js";
import {
  type BrokerConfig,
  type CutoverSettings,
  type DrSettings,
  envSchema,
  formatIssues,
  type logLevel,
  yamlSchema,
} from "./config-schema.js";
import { type SecretsSettings, secretsSchema } from "./config-secrets.js";
import { ConfigError } from "./errors.js";

export type Role = "panic" | "clear" | "approve" | "rotate";

/** A YAML section owned by a higher layer (e.g. src/s3/config.ts): parsed here, read back through its owner. */
export interface SectionSpec {
  key: string;
  schema: z.ZodType;
}

/** The parsed, validated configuration every module receives from the composition root. */
export interface Config {
  mode: "local" | "slack-http" | "slack-socket";
  home: string;
  /** One server or Sentinel, TLS, credentials (non-enumerable) and the halt's replication (src/config-redis.ts). */
  redis: RedisSettings;
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
  recon: { schedule: string; enabled: boolean };
  resume: { soakMinutes: number; requestTtlMinutes: number };
  panic: {
    deadlineMs: number;
    callTimeoutMs: number;
    snapshotDir: string;
    s3?: { bucket: string; prefix: string; region: string; endpoint?: string };
  };
  runbookUrl?: string;
  /** DR restore rehearsals: the scratch Redis, the monthly reminder. */
  dr: DrSettings;
  /** The go/no-go checklist for enabling an asset class. */
  cutover: CutoverSettings;
  /** The guard runner's tick lease across replicas. */
  guardRunner: { leaseMs: number };
  /** Every known guard's settings, parsed once here. */
  guards: Record<string, GuardSettings>;
  /** The parsed SectionSpec sections by key (read with their owner's accessor, e.g. s3Of). */
  sections: Record<string, unknown>;
  /** Secrets read from env for the brokers (kept out of the YAML). */
  env: Record<string, string | undefined>;
}

/**
 * Parses env (+ the YAML file it names) into a Config, or throws ConfigError naming every bad key. `guards` are the
 * guards whose settings `guards.<name>` may hold (the composition root passes every registered guard).
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  guards: readonly GuardSpec[],
  sections: readonly SectionSpec[] = [],
): Config {
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
  const yamlResult = yamlSchema.extend(Object.fromEntries(sections.map((x) => [x.key, x.schema]))).safeParse(raw);
  if (!yamlResult.success) {
    throw new ConfigError(`invalid configuration:\n${formatIssues(e.TRADEGUARD_CONFIG ?? "yaml", yamlResult.error)}`);
  }
  const y = yamlResult.data as z.infer<typeof yamlSchema> & Record<string, unknown>;

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
  let redis: RedisSettings;
  try {
    redis = resolveRedis(y.redis, clean.REDIS_URL, clean, e.REDIS_PREFIX);
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n${(err as Error).message}`);
  }
  const config: Config = {
    mode,
    home,
    redis,
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
    recon: { schedule: y.recon.schedule, enabled: y.recon.enabled },
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
    dr: y.dr,
    cutover: y.cutover,
    guardRunner: { leaseMs: y.guard_runner.lease_ms },
    guards: parseGuardSettings(y.guards, guards, e.TRADEGUARD_CONFIG ?? "yaml"),
    sections: Object.fromEntries(sections.map((x) => [x.key, y[x.key]])),
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
      redis: {
        ...c.redis,
        url: c.redis.url.replace(/\/\/[^@/]*@/, "//[redacted]@"),
        password: mask(c.redis.password),
        sentinelPassword: mask(c.redis.sentinelPassword),
      },
      dr: { ...c.dr, scratchUrl: c.dr.scratchUrl?.replace(/\/\/[^@/]*@/, "//[redacted]@") },
      env: undefined,
    }),
  );
}

/**
 * The identity of a CLI user in the audit log, role checks and two-person rules: the OS account running the
 * process (getpwuid), never USER or LOGNAME, which anyone can set to another person's name. Only root acting for a
 * person through sudo is named by SUDO_USER (sudo sets it, and root could act as anyone anyway). The CLI's two-person
 * rule is therefore as strong as the desk's OS accounts: on a shared service account it cannot tell people apart,
 * so approve from Slack or from personal accounts (RUNBOOK.md, sop-resume).
 */
export function cliActor(env: Record<string, string | undefined> = process.env): string {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = `uid-${process.getuid?.() ?? "unknown"}`;
  }
  if (process.getuid?.() === 0 && env.SUDO_USER) name = env.SUDO_USER;
  return `cli:${name}`;
}
