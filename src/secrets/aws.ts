// The secret store in AWS Secrets Manager, in its own rotation vocabulary. One AWS secret per managed broker (named
// prefix + the broker's `secret`), SecretString = {"key_id","secret","password"?,"created_at"}, and the credential's
// state is the version's staging label: AWSPENDING → PENDING, AWSCURRENT → CURRENT, AWSPREVIOUS → PREVIOUS.
//
// The operations follow the steps AWS documents for rotation functions ("How rotation works",
// https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_how.html, and the generic template
// SecretsManagerRotationTemplate/lambda_function.py in aws-samples/aws-secrets-manager-rotation-lambdas):
// - createSecret → stage(): PutSecretValue with VersionStages ["AWSPENDING"] and a ClientRequestToken (it becomes
//   the VersionId and makes the SDK's retries idempotent). "If you specify a staging label that's already associated
//   with a different version of the same secret, then Secrets Manager removes the label from the other version"
//   (API_PutSecretValue, VersionStages), so an older PENDING is replaced. A secret that does not exist yet is made
//   with CreateSecret, whose first version gets AWSCURRENT (first provisioning).
// - setSecret / testSecret belong to the rotation operation (the venue, the read-only test call), not to the store.
// - finishSecret → promote(): UpdateSecretVersionStage(AWSCURRENT, MoveToVersionId=pending,
//   RemoveFromVersionId=current), then remove AWSPENDING from the promoted version, as the template does. "Whenever
//   you move AWSCURRENT, Secrets Manager automatically moves the label AWSPREVIOUS to the version that AWSCURRENT was
//   removed from" (API_UpdateSecretVersionStage); the version that held AWSPREVIOUS loses it and, with no label
//   left, "is considered to be 'deprecated' and can be deleted by Secrets Manager" — that is the dropped PREVIOUS.
// - discardPending(): UpdateSecretVersionStage(AWSPENDING, RemoveFromVersionId=pending); retire():
//   UpdateSecretVersionStage(AWSPREVIOUS, RemoveFromVersionId=that version). Both leave a deprecated version.
// - AWSPENDING on the AWSCURRENT version is a finished rotation, not a pending one (labelsOf in aws-model.ts).
// versions() is ListSecretVersionIds (labelled versions only; deprecated ones are excluded by default,
// API_ListSecretVersionIds IncludeDeprecated) plus GetSecretValue per labelled version: the key ids live inside the
// values. API_<Operation> is https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_<Operation>.html.
import { randomUUID } from "node:crypto";
import type * as Sdk from "@aws-sdk/client-secrets-manager";
import { UserInputError } from "../errors.js";
import type { Logger } from "../log.js";
import {
  callError,
  isCode,
  LABEL,
  type Label,
  type Labels,
  labelsOf,
  parseValue,
  type Stored,
  type Version,
} from "./aws-model.js";
import {
  type Credential,
  type CredentialInfo,
  type CredentialState,
  checkKeyIdFree,
  checkName,
  checkNewCredential,
  credential,
  type NewCredential,
  noPending,
  notPrevious,
  type PromoteResult,
  type SecretStore,
  sortVersions,
} from "./store.js";

export interface AwsStoreOptions {
  region: string;
  /** Another endpoint than AWS's (tests, VPC endpoints). */
  endpoint?: string;
  /** Prepended to each managed secret's name. */
  prefix: string;
  /** Static credentials (tests); without them the SDK's default provider chain finds them. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-attempt HTTP timeout (default 5 s). */
  timeoutMs?: number;
  /** Attempts per call, retries included (default 3; the SDK's standard retry mode with backoff). */
  maxAttempts?: number;
  log?: Logger;
  now?: () => Date;
}

type SdkModule = typeof Sdk;
const MAX_PAGES = 20;

/** The secret store in AWS Secrets Manager. */
export class AwsSecretStore implements SecretStore {
  readonly kind = "aws" as const;
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly prefix: string;
  readonly #opts: AwsStoreOptions;
  #client: Promise<{ client: Sdk.SecretsManagerClient; sdk: SdkModule }> | undefined;

  constructor(opts: AwsStoreOptions) {
    this.region = opts.region;
    this.endpoint = opts.endpoint;
    this.prefix = opts.prefix;
    this.#opts = opts;
  }

  /** The SDK client, created on first use: the SDK is loaded only when an AWS store is actually called. */
  #sdk(): Promise<{ client: Sdk.SecretsManagerClient; sdk: SdkModule }> {
    if (this.#client) return this.#client;
    this.#client = import("@aws-sdk/client-secrets-manager").then((sdk) => ({
      sdk,
      client: new sdk.SecretsManagerClient({
        region: this.region,
        ...(this.endpoint ? { endpoint: this.endpoint } : {}),
        ...(this.#opts.credentials ? { credentials: this.#opts.credentials } : {}),
        maxAttempts: this.#opts.maxAttempts ?? 3,
        retryMode: "standard",
        // throwOnRequestTimeout: without it this SDK only logs a warning when requestTimeout passes.
        requestHandler: {
          connectionTimeout: this.#timeout(),
          requestTimeout: this.#timeout(),
          throwOnRequestTimeout: true,
        },
      }),
    }));
    // A failed load is not cached: the next call tries again.
    this.#client.catch(() => {
      this.#client = undefined;
    });
    return this.#client;
  }

  #timeout(): number {
    return this.#opts.timeoutMs ?? 5_000;
  }

  /** One SDK call with an overall deadline; its failure as a SecretStoreError that names no secret value. */
  async #call<T>(
    op: string,
    id: string,
    send: (client: Sdk.SecretsManagerClient, sdk: SdkModule, signal: AbortSignal) => Promise<T>,
    secrets: readonly (string | undefined)[] = [],
  ): Promise<T> {
    const { client, sdk } = await this.#sdk();
    // Every attempt is bounded by requestTimeout; this bounds the whole call, retries and backoff included.
    const deadline = this.#timeout() * (this.#opts.maxAttempts ?? 3) + 2_000;
    try {
      return await send(client, sdk, AbortSignal.timeout(deadline));
    } catch (err) {
      throw callError(op, id, err, deadline, secrets);
    }
  }

  #id(name: string): string {
    checkName(name);
    return `${this.prefix}${name}`;
  }

  async #list(id: string): Promise<{ exists: boolean; versions: Version[] }> {
    const versions: Version[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let out: Sdk.ListSecretVersionIdsCommandOutput;
      try {
        out = await this.#call("ListSecretVersionIds", id, (c, sdk, abortSignal) =>
          c.send(new sdk.ListSecretVersionIdsCommand({ SecretId: id, MaxResults: 100, NextToken: token }), {
            abortSignal,
          }),
        );
      } catch (err) {
        if (isCode(err, "ResourceNotFoundException")) return { exists: false, versions: [] };
        throw err;
      }
      for (const v of out.Versions ?? [])
        if (v.VersionId) versions.push({ versionId: v.VersionId, stages: v.VersionStages ?? [] });
      token = out.NextToken;
      if (!token) break;
    }
    return { exists: true, versions };
  }

  async #labels(id: string): Promise<Labels> {
    const { exists, versions } = await this.#list(id);
    return { exists, ...labelsOf(versions) };
  }

  /** One version's value, parsed; null when that version or label does not exist. */
  async #value(id: string, by: { VersionId: string } | { VersionStage: Label }) {
    let out: Sdk.GetSecretValueCommandOutput;
    try {
      out = await this.#call("GetSecretValue", id, (c, sdk, abortSignal) =>
        c.send(new sdk.GetSecretValueCommand({ SecretId: id, ...by }), { abortSignal }),
      );
    } catch (err) {
      if (isCode(err, "ResourceNotFoundException")) return null;
      throw err;
    }
    return {
      ...parseValue(id, out.VersionId, out.SecretString),
      versionId: out.VersionId ?? "",
      stages: out.VersionStages ?? [],
    };
  }

  /** The labelled versions with their key ids. */
  async #snapshot(id: string): Promise<{ labels: Labels; stored: Stored[] }> {
    const labels = await this.#labels(id);
    const stored: Stored[] = [];
    for (const state of ["CURRENT", "PENDING", "PREVIOUS"] as const) {
      const versionId = labels[state.toLowerCase() as "current" | "pending" | "previous"];
      if (!versionId) continue;
      const v = await this.#value(id, { VersionId: versionId });
      if (v) stored.push({ keyId: v.key_id, createdAt: v.created_at, state, versionId });
    }
    return { labels, stored };
  }

  /** Versions of one managed secret, CURRENT first; [] when the AWS secret does not exist. */
  async versions(name: string): Promise<CredentialInfo[]> {
    const { stored } = await this.#snapshot(this.#id(name));
    return sortVersions(stored.map(({ keyId, createdAt, state }) => ({ keyId, createdAt, state })));
  }

  /** The credential in `state` (default CURRENT): GetSecretValue by staging label, or null. */
  async get(name: string, state: CredentialState = "CURRENT"): Promise<Credential | null> {
    const v = await this.#value(this.#id(name), { VersionStage: LABEL[state] });
    if (!v) return null;
    if (state !== "CURRENT" && v.stages.includes("AWSCURRENT")) return null;
    if (state === "PREVIOUS" && v.stages.includes("AWSPENDING")) return null;
    return credential({ keyId: v.key_id, createdAt: v.created_at, state }, v.secret, v.password);
  }

  /** Stores `c` as a new AWSPENDING version, or creates the AWS secret with it as AWSCURRENT. */
  async stage(name: string, c: NewCredential): Promise<{ state: "PENDING" | "CURRENT" }> {
    const id = this.#id(name);
    checkNewCredential(c);
    let snap = await this.#snapshot(id);
    checkKeyIdFree(name, c.keyId, snap.stored);
    const createdAt = (this.#opts.now?.() ?? new Date()).toISOString();
    const value = JSON.stringify({
      key_id: c.keyId,
      secret: c.secret,
      ...(c.password !== undefined ? { password: c.password } : {}),
      created_at: createdAt,
    });
    const token = randomUUID();
    const secrets = [c.secret, c.password, value];
    if (!snap.labels.exists) {
      try {
        await this.#call(
          "CreateSecret",
          id,
          (cl, sdk, abortSignal) =>
            cl.send(
              new sdk.CreateSecretCommand({
                Name: id,
                ClientRequestToken: token,
                SecretString: value,
                Description: "Broker API credential managed by tradeguard (tradeguard secrets / rotate)",
              }),
              { abortSignal },
            ),
          secrets,
        );
        this.#log(name, c.keyId, token, "CURRENT", "secrets: AWS secret created with its first credential");
        return { state: "CURRENT" };
      } catch (err) {
        if (!isCode(err, "ResourceExistsException")) throw err;
        // Created meanwhile (by another process, or by this call's own retried first attempt): look again.
        snap = await this.#snapshot(id);
        const ours = snap.stored.find((s) => s.versionId === token);
        if (ours) return { state: ours.state === "CURRENT" ? "CURRENT" : "PENDING" };
        checkKeyIdFree(name, c.keyId, snap.stored);
      }
    }
    const state = snap.labels.current ? "PENDING" : "CURRENT";
    await this.#call(
      "PutSecretValue",
      id,
      (cl, sdk, abortSignal) =>
        cl.send(
          new sdk.PutSecretValueCommand({
            SecretId: id,
            ClientRequestToken: token,
            SecretString: value,
            VersionStages: [LABEL[state]],
          }),
          { abortSignal },
        ),
      secrets,
    );
    this.#log(name, c.keyId, token, state, "secrets: credential stored");
    return { state };
  }

  #updateStage(id: string, input: Omit<Sdk.UpdateSecretVersionStageCommandInput, "SecretId">): Promise<unknown> {
    return this.#call("UpdateSecretVersionStage", id, (c, sdk, abortSignal) =>
      c.send(new sdk.UpdateSecretVersionStageCommand({ SecretId: id, ...input }), { abortSignal }),
    );
  }

  /** finishSecret: AWSCURRENT moved to the AWSPENDING version (AWS moves AWSPREVIOUS), then AWSPENDING removed. */
  async promote(name: string): Promise<PromoteResult> {
    const id = this.#id(name);
    const { stored } = await this.#snapshot(id);
    const pending = stored.find((s) => s.state === "PENDING");
    if (!pending) throw noPending(name);
    const current = stored.find((s) => s.state === "CURRENT");
    const previous = stored.find((s) => s.state === "PREVIOUS");
    try {
      await this.#updateStage(id, {
        VersionStage: "AWSCURRENT",
        MoveToVersionId: pending.versionId,
        ...(current ? { RemoveFromVersionId: current.versionId } : {}),
      });
    } catch (err) {
      // A timed-out call may still have been applied: report a failure only if AWSCURRENT did not move.
      const after = await this.#labels(id).catch(() => null);
      if (after?.current !== pending.versionId) throw err;
    }
    try {
      await this.#updateStage(id, { VersionStage: "AWSPENDING", RemoveFromVersionId: pending.versionId });
    } catch (err) {
      // Promoted all the same: AWSPENDING left on the AWSCURRENT version is how a finished AWS rotation may look.
      this.#opts.log?.warn(
        { store: "aws", name, version_id: pending.versionId, err: (err as Error).message },
        "secrets: promoted, but AWSPENDING could not be removed from the new AWSCURRENT version (harmless)",
      );
    }
    const result = { current: pending.keyId, previous: current?.keyId ?? null, dropped: previous?.keyId ?? null };
    this.#opts.log?.info({ store: "aws", name, ...result }, "secrets: PENDING credential promoted to CURRENT");
    return result;
  }

  /**
   * Undoes a promote: AWSCURRENT moves back to the AWSPREVIOUS version (AWS then labels the demoted version
   * AWSPREVIOUS itself), and the demoted version is relabelled AWSPENDING.
   */
  async demote(name: string): Promise<void> {
    const id = this.#id(name);
    const { stored } = await this.#snapshot(id);
    const current = stored.find((s) => s.state === "CURRENT");
    const previous = stored.find((s) => s.state === "PREVIOUS");
    if (!current || !previous || stored.some((s) => s.state === "PENDING"))
      throw new UserInputError(`secret ${name}: nothing to roll back (needs a CURRENT, a PREVIOUS and no PENDING)`);
    await this.#updateStage(id, {
      VersionStage: "AWSCURRENT",
      MoveToVersionId: previous.versionId,
      RemoveFromVersionId: current.versionId,
    });
    await this.#updateStage(id, { VersionStage: "AWSPENDING", MoveToVersionId: current.versionId });
    await this.#updateStage(id, { VersionStage: "AWSPREVIOUS", RemoveFromVersionId: current.versionId });
    this.#opts.log?.warn({ store: "aws", name, key_id: current.keyId }, "secrets: promotion rolled back");
  }

  /** Removes AWSPENDING from the pending version (it becomes deprecated); does nothing when there is none. */
  async discardPending(name: string): Promise<void> {
    const id = this.#id(name);
    const { pending } = await this.#labels(id);
    if (!pending) return;
    await this.#updateStage(id, { VersionStage: "AWSPENDING", RemoveFromVersionId: pending });
    this.#opts.log?.info({ store: "aws", name, version_id: pending }, "secrets: PENDING discarded");
  }

  /** Removes AWSPREVIOUS from the version holding `keyId`; throws when `keyId` is not PREVIOUS. */
  async retire(name: string, keyId: string): Promise<void> {
    const id = this.#id(name);
    const { stored } = await this.#snapshot(id);
    const v = stored.find((s) => s.keyId === keyId);
    if (v?.state !== "PREVIOUS") throw notPrevious(name, keyId, v?.state);
    await this.#updateStage(id, { VersionStage: "AWSPREVIOUS", RemoveFromVersionId: v.versionId });
    this.#opts.log?.info({ store: "aws", name, key_id: keyId }, "secrets: PREVIOUS credential retired");
  }

  #log(name: string, keyId: string, versionId: string, state: CredentialState, msg: string): void {
    this.#opts.log?.info({ store: "aws", name, key_id: keyId, version_id: versionId, state }, msg);
  }

  /** What JSON.stringify shows of the store: where it is, never credentials. */
  toJSON(): Record<string, string | undefined> {
    return { kind: this.kind, region: this.region, endpoint: this.endpoint, prefix: this.prefix };
  }
}
