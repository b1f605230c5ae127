// Managed brokers' credentials (issue 12): staging a new key (the secret read from standard input by the CLI, never
// from argv or env), listing key ids and ages, testing a credential with one read-only call, retiring an old key after
// it was revoked at the venue. Secret values are never printed, logged, audited or posted: only key ids are.
import type { Broker } from "../brokers/broker.js";
import { NotFoundError, UsageError } from "../errors.js";
import type { CredentialState, NewCredential } from "../secrets/store.js";
import { audit, type OpsDeps } from "./deps.js";
import { authorize } from "./roles.js";
import { message } from "./within.js";

/** One managed broker's keys as shown (never a secret). */
export interface ManagedKeys {
  broker: string;
  secret: string;
  current: { keyId: string; createdAt: string; ageDays: number } | null;
  pending: string | null;
  previous: string | null;
}

/** The alert stream of key-rotation conditions (due, failed, revoke). */
export const ROTATE_STREAM = "rotation";

/** Secret-store operations on managed brokers. */
export class SecretsOperation {
  constructor(private readonly deps: OpsDeps) {}

  /** The configured broker `name` with its secret name; UsageError when it is not a managed broker. */
  managed(name: string): { broker: Broker; secret: string } {
    const cfg = this.deps.config.brokers.find((b) => b.name === name);
    if (!cfg) throw new UsageError(`no broker named ${name} is configured`);
    const secret = "secret" in cfg ? cfg.secret : undefined;
    if (!secret)
      throw new UsageError(
        `broker ${name} is not managed: give it \`secret: <name>\` in its config to keep its key in the secret store`,
      );
    const broker = this.deps.brokers.find((b) => b.name === name);
    if (!broker) throw new NotFoundError(`broker ${name} is not running`);
    return { broker, secret };
  }

  /** Every managed broker (those with `secret:`). */
  managedNames(): string[] {
    return this.deps.config.brokers.flatMap((b) => ("secret" in b && b.secret ? [b.name] : []));
  }

  /** Stages a credential (role `rotate`); the first one of a broker becomes CURRENT at once (first provisioning). */
  async stage(
    actor: string,
    name: string,
    c: NewCredential,
  ): Promise<{ broker: string; keyId: string; state: CredentialState }> {
    const d = this.deps;
    await authorize(d, actor, "rotate", "secrets.stage");
    const { broker, secret } = this.managed(name);
    if (!/^[A-Za-z0-9_.:/+=-]{4,128}$/.test(c.keyId))
      throw new UsageError("--key-id: 4-128 letters, digits or _.:/+=-");
    if (c.secret.length < 8) throw new UsageError("the secret read from standard input is shorter than 8 characters");
    const { state } = await d.secrets.stage(secret, c);
    if (state === "CURRENT") {
      broker.setCredentials?.(c);
      await this.announceRotated(name, c.keyId).catch((err) =>
        d.log.warn({ err }, "secrets: could not tell the running bots about the provisioned key"),
      );
    }
    await audit(d, {
      actor,
      action: state === "CURRENT" ? "secrets.provisioned" : "secrets.staged",
      details: { broker: name, key_id: c.keyId, state },
    });
    return { broker: name, keyId: c.keyId, state };
  }

  /** Key ids and ages of every managed broker (no role: nothing secret). */
  async list(): Promise<ManagedKeys[]> {
    const d = this.deps;
    const now = d.now().getTime();
    const out: ManagedKeys[] = [];
    for (const name of this.managedNames()) {
      const cfg = d.config.brokers.find((b) => b.name === name)!;
      const secret = (cfg as { secret: string }).secret;
      const versions = await d.secrets.versions(secret);
      const cur = versions.find((v) => v.state === "CURRENT");
      out.push({
        broker: name,
        secret,
        current: cur
          ? {
              keyId: cur.keyId,
              createdAt: cur.createdAt,
              ageDays: Math.floor((now - Date.parse(cur.createdAt)) / 86_400_000),
            }
          : null,
        pending: versions.find((v) => v.state === "PENDING")?.keyId ?? null,
        previous: versions.find((v) => v.state === "PREVIOUS")?.keyId ?? null,
      });
    }
    return out;
  }

  /** One authenticated read-only call with the CURRENT (or PENDING) credential; never throws for a refusal. */
  async test(
    actor: string,
    name: string,
    state: "CURRENT" | "PENDING",
  ): Promise<{ ok: boolean; keyId: string | null; detail: string }> {
    const d = this.deps;
    await authorize(d, actor, "rotate", "secrets.test");
    const { broker, secret } = this.managed(name);
    const c = await d.secrets.get(secret, state);
    if (!c) return { ok: false, keyId: null, detail: `no ${state} credential is stored for ${name}` };
    if (!broker.testCredentials) return { ok: false, keyId: c.keyId, detail: `${name} cannot test credentials` };
    let result: { ok: boolean; keyId: string; detail: string };
    try {
      await broker.testCredentials({ keyId: c.keyId, secret: c.secret, password: c.password });
      result = { ok: true, keyId: c.keyId, detail: "accepted" };
    } catch (err) {
      result = { ok: false, keyId: c.keyId, detail: `refused: ${message(err)}` };
    }
    await audit(d, {
      actor,
      action: "secrets.tested",
      details: { broker: name, key_id: c.keyId, state, ok: result.ok },
    });
    return result;
  }

  /** Retires the PREVIOUS key after it was revoked at the venue (role `rotate`); its revoke alert resolves. */
  async retire(actor: string, name: string, keyId: string): Promise<void> {
    const d = this.deps;
    await authorize(d, actor, "rotate", "secrets.retire");
    const { secret } = this.managed(name);
    await d.secrets.retire(secret, keyId);
    await audit(d, { actor, action: "rotate.retired", details: { broker: name, key_id: keyId } });
    await d.alerts.resolve(ROTATE_STREAM, revokeKey(name, keyId), d.now());
  }

  /** Tells every running bot replica to reload `broker`'s CURRENT key (pub/sub `secrets:rotated`). */
  async announceRotated(broker: string, keyId: string): Promise<void> {
    await this.deps.redis.publish(
      this.deps.keys.secretsRotated,
      JSON.stringify({ broker, key_id: keyId, ts: this.deps.now().toISOString() }),
    );
  }
}

/** The alert key of an old key still to revoke at the venue. */
export function revokeKey(broker: string, keyId: string): string {
  return `revoke:${broker}:${keyId}`;
}
