// Builds the configured secret store. The AWS SDK is not imported here: AwsSecretStore loads it on its first call
// (like the S3 snapshot upload), so the emergency CLI starts fast and local mode never loads it.
import { join, resolve } from "node:path";
import type { SecretsSettings } from "../config-secrets.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import { AwsSecretStore } from "./aws.js";
import { LocalSecretStore } from "./local.js";
import type { SecretStore } from "./store.js";

export interface SecretStoreContext {
  /** TRADEGUARD_HOME (Config.home). */
  home: string;
  /** The environment (Config.env): TRADEGUARD_SECRETS_KEY, AWS_REGION. */
  env: Record<string, string | undefined>;
  /** Config.mode: only local mode generates a missing key file. */
  mode: "local" | "slack-http" | "slack-socket";
  log?: Logger;
  /** Static AWS credentials (tests); otherwise the SDK's default provider chain. */
  awsCredentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-attempt timeout and attempts of AWS calls (defaults 5 s, 3). */
  aws?: { timeoutMs?: number; maxAttempts?: number };
}

/** The secret store `settings` name; throws ConfigError for settings that cannot work (a bad key, no region). */
export function createSecretStore(settings: SecretsSettings, ctx: SecretStoreContext): SecretStore {
  if (settings.store === "aws") {
    const region = settings.region ?? ctx.env.AWS_REGION ?? ctx.env.AWS_DEFAULT_REGION;
    if (!region) throw new ConfigError("secrets.region: required for store aws (or set AWS_REGION)");
    return new AwsSecretStore({
      region,
      endpoint: settings.endpoint,
      prefix: settings.prefix,
      credentials: ctx.awsCredentials ?? staticCredentials(ctx.env),
      ...ctx.aws,
      log: ctx.log,
    });
  }
  return new LocalSecretStore({
    file: resolve(settings.file ?? join(ctx.home, "secrets.json")),
    keyFile: resolve(settings.key_file ?? join(ctx.home, "secrets.key")),
    env: ctx.env,
    createKey: ctx.mode === "local",
    log: ctx.log,
  });
}

/**
 * Access keys from the configuration's environment (the one the process was started with), so the store uses the
 * same environment as everything else; without them the SDK's default chain applies (instance role, SSO, files).
 */
function staticCredentials(env: Record<string, string | undefined>): SecretStoreContext["awsCredentials"] {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN } = env;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}) };
}
