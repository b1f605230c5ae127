// A local AWS Secrets Manager speaking its documented JSON protocol (POST /, `X-Amz-Target: secretsmanager.<Op>`,
// `Content-Type: application/x-amz-json-1.1`, errors as HTTP 400 `{"__type": "...", "message": "..."}`), with the
// staging-label rules of the API reference:
// - a label is attached to at most one version of a secret; attaching it elsewhere moves it (PutSecretValue
//   VersionStages) or requires RemoveFromVersionId naming its holder (UpdateSecretVersionStage, else
//   InvalidParameterException);
// - whenever AWSCURRENT moves, AWSPREVIOUS moves to the version AWSCURRENT was removed from;
// - AWSCURRENT cannot be removed, only moved;
// - the first version of a secret gets AWSCURRENT; PutSecretValue without VersionStages moves AWSCURRENT to it;
// - a version with no label is deprecated: ListSecretVersionIds leaves it out unless IncludeDeprecated;
// - a ClientRequestToken is the VersionId: the same token with the same value is a no-op, with another value an error.
// It records every request (target, headers, body) for assertions and can inject failures and delays.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  target: string;
  op: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

interface Version {
  id: string;
  value: string;
  stages: Set<string>;
  created: number;
}

interface Secret {
  name: string;
  arn: string;
  versions: Version[];
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface Fault {
  status?: number;
  type?: string;
  message?: string;
  /** How many requests fail (default 1; Infinity for all). */
  times?: number;
  /** Delay the response this long instead of failing (for timeouts). */
  delayMs?: number;
  /** Apply the operation, then fail the response (a lost reply). */
  afterApply?: boolean;
  /** Let this many matching requests through before the fault starts (default 0). */
  after?: number;
}

export class SecretsManagerServer {
  readonly requests: RecordedRequest[] = [];
  readonly secrets = new Map<string, Secret>();
  /** ListSecretVersionIds page size when the request gives none (small values exercise NextToken). */
  pageSize = 100;
  #faults = new Map<string, Fault & { left: number; skip: number }>();
  #hooks = new Map<string, () => void>();
  #server: Server;
  url = "";

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void this.#handle(req.headers, Buffer.concat(chunks).toString("utf8"), res));
    });
  }

  /** Starts listening on 127.0.0.1 on a free port. */
  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  /** Stops the server (dropping kept-alive connections). */
  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }

  /** Makes the next `fault.times` requests for `op` fail (or stall). */
  fail(op: string, fault: Fault = {}): void {
    this.#faults.set(op, { ...fault, left: fault.times ?? 1, skip: fault.after ?? 0 });
  }

  /** Runs `fn` once, just before the next `op` request is applied (to change state "meanwhile"). */
  before(op: string, fn: () => void): void {
    this.#hooks.set(op, fn);
  }

  /** Forgets every secret, request, fault and hook (between tests). */
  reset(): void {
    this.secrets.clear();
    this.requests.length = 0;
    this.#faults.clear();
    this.#hooks.clear();
    this.pageSize = 100;
  }

  /** Applies one operation directly, as another client would (not recorded). */
  call(op: string, body: Record<string, unknown>): unknown {
    return this.#apply(op, body);
  }

  /** The operations called, in order. */
  ops(): string[] {
    return this.requests.map((r) => r.op);
  }

  /** The labels of each version of a secret, by version id (deprecated versions as []). */
  labels(name: string): Record<string, string[]> {
    const s = this.secrets.get(name);
    return Object.fromEntries((s?.versions ?? []).map((v) => [v.id, [...v.stages].sort()]));
  }

  async #handle(headers: IncomingHttpHeaders, text: string, res: import("node:http").ServerResponse): Promise<void> {
    const target = String(headers["x-amz-target"] ?? "");
    const op = target.replace(/^secretsmanager\./, "");
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { unparsable: text };
    }
    this.requests.push({ target, op, headers, body });
    const send = (status: number, payload: unknown) => {
      const out = JSON.stringify(payload);
      res.writeHead(status, {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-requestid": randomUUID(),
        "content-length": Buffer.byteLength(out),
      });
      res.end(out);
    };
    const fault = this.#faults.get(op);
    let active = false;
    if (fault && fault.skip > 0) fault.skip--;
    else if (fault && fault.left > 0) {
      fault.left--;
      active = true;
    }
    const injected = () =>
      send(fault?.status ?? 500, {
        __type: fault?.type ?? "InternalServiceError",
        message: fault?.message ?? "injected",
      });
    if (active && fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    else if (active && !fault?.afterApply) return injected();
    const hook = this.#hooks.get(op);
    this.#hooks.delete(op);
    hook?.();
    try {
      if (headers["content-type"] !== "application/x-amz-json-1.1") {
        throw new AwsError("SerializationException", "Content-Type application/x-amz-json-1.1 expected");
      }
      const out = this.#apply(op, body);
      if (active && fault?.afterApply) return injected();
      send(200, out);
    } catch (err) {
      if (err instanceof AwsError) send(err.status, { __type: err.type, message: err.message });
      else send(500, { __type: "InternalServiceError", message: String(err) });
    }
  }

  #secret(id: unknown): Secret {
    const s = this.secrets.get(String(id));
    if (!s) throw new AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    return s;
  }

  #version(s: Secret, id: unknown): Version {
    const v = s.versions.find((x) => x.id === id);
    if (!v) throw new AwsError("ResourceNotFoundException", `Secrets Manager can't find the specified secret version.`);
    return v;
  }

  /** Attaches `label` to `to`, taking it off any other version; moving AWSCURRENT moves AWSPREVIOUS after it. */
  #attach(s: Secret, label: string, to: Version): void {
    const holder = s.versions.find((v) => v.stages.has(label));
    if (holder === to) return;
    holder?.stages.delete(label);
    to.stages.add(label);
    if (label === "AWSCURRENT" && holder) {
      for (const v of s.versions) v.stages.delete("AWSPREVIOUS");
      holder.stages.add("AWSPREVIOUS");
    }
  }

  #newVersion(s: Secret, token: unknown, value: unknown, stages: string[] | undefined): Version {
    if (typeof value !== "string") throw new AwsError("InvalidParameterException", "SecretString is required.");
    const id = typeof token === "string" && token ? token : randomUUID();
    const existing = s.versions.find((v) => v.id === id);
    if (existing) {
      if (existing.value === value) return existing; // idempotent retry
      throw new AwsError(
        "ResourceExistsException",
        "You can't modify an existing version, you can only create new ones.",
      );
    }
    const v: Version = { id, value, stages: new Set(), created: Date.now() / 1000 };
    const first = s.versions.length === 0;
    s.versions.push(v);
    const labels = stages ?? ["AWSCURRENT"];
    for (const label of first && !labels.includes("AWSCURRENT") ? [...labels, "AWSCURRENT"] : labels) {
      this.#attach(s, label, v);
    }
    return v;
  }

  #apply(op: string, b: Record<string, unknown>): unknown {
    switch (op) {
      case "CreateSecret": {
        const name = String(b.Name ?? "");
        if (this.secrets.has(name))
          throw new AwsError(
            "ResourceExistsException",
            `The operation failed because the secret ${name} already exists.`,
          );
        const s: Secret = {
          name,
          arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`,
          versions: [],
        };
        this.secrets.set(name, s);
        const v =
          b.SecretString !== undefined
            ? this.#newVersion(s, b.ClientRequestToken, b.SecretString, undefined)
            : undefined;
        return { ARN: s.arn, Name: name, ...(v ? { VersionId: v.id } : {}) };
      }
      case "PutSecretValue": {
        const s = this.#secret(b.SecretId);
        const v = this.#newVersion(s, b.ClientRequestToken, b.SecretString, b.VersionStages as string[] | undefined);
        return { ARN: s.arn, Name: s.name, VersionId: v.id, VersionStages: [...v.stages] };
      }
      case "GetSecretValue": {
        const s = this.#secret(b.SecretId);
        const stage = b.VersionStage as string | undefined;
        let v: Version | undefined;
        if (b.VersionId !== undefined) {
          v = this.#version(s, b.VersionId);
          if (stage && !v.stages.has(stage)) v = undefined;
        } else {
          v = s.versions.find((x) => x.stages.has(stage ?? "AWSCURRENT"));
        }
        if (!v) {
          throw new AwsError(
            "ResourceNotFoundException",
            `Secrets Manager can't find the specified secret value for staging label: ${stage ?? "AWSCURRENT"}`,
          );
        }
        return {
          ARN: s.arn,
          Name: s.name,
          VersionId: v.id,
          SecretString: v.value,
          VersionStages: [...v.stages],
          CreatedDate: v.created,
        };
      }
      case "ListSecretVersionIds": {
        const s = this.#secret(b.SecretId);
        const all = s.versions.filter((v) => b.IncludeDeprecated === true || v.stages.size > 0);
        const size = Math.min(typeof b.MaxResults === "number" ? b.MaxResults : 100, this.pageSize);
        const start = b.NextToken ? Number(b.NextToken) : 0;
        const page = all.slice(start, start + size);
        const next = start + size < all.length ? String(start + size) : undefined;
        return {
          ARN: s.arn,
          Name: s.name,
          Versions: page.map((v) => ({ VersionId: v.id, VersionStages: [...v.stages], CreatedDate: v.created })),
          ...(next ? { NextToken: next } : {}),
        };
      }
      case "UpdateSecretVersionStage": {
        const s = this.#secret(b.SecretId);
        const label = String(b.VersionStage ?? "");
        const holder = s.versions.find((v) => v.stages.has(label));
        if (b.MoveToVersionId !== undefined) {
          const to = this.#version(s, b.MoveToVersionId);
          if (holder && holder !== to && b.RemoveFromVersionId !== holder.id) {
            throw new AwsError(
              "InvalidParameterException",
              `The parameter RemoveFromVersionId can't be empty. Staging label ${label} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
            );
          }
          this.#attach(s, label, to);
        } else {
          const from = this.#version(s, b.RemoveFromVersionId);
          if (!from.stages.has(label)) {
            throw new AwsError(
              "InvalidParameterException",
              `Staging label ${label} is not attached to version ${from.id}.`,
            );
          }
          if (label === "AWSCURRENT") {
            throw new AwsError(
              "InvalidParameterException",
              "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.",
            );
          }
          from.stages.delete(label);
        }
        return { ARN: s.arn, Name: s.name };
      }
      case "DescribeSecret": {
        const s = this.#secret(b.SecretId);
        return { ARN: s.arn, Name: s.name, VersionIdsToStages: this.labels(s.name) };
      }
      default:
        throw new AwsError("UnknownOperationException", `unknown operation ${op}`);
    }
  }
}

/** Starts a Secrets Manager server on a free loopback port. */
export function startSecretsManagerServer(): Promise<SecretsManagerServer> {
  return new SecretsManagerServer().start();
}
