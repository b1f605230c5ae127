// The /panic confirmation is a token the bot issued: signed (HMAC-SHA256 with a key derived from the audit signing
// key, so every replica can check it without Redis), bound to the user it was shown to, expiring, and used once.
// A click whose value the bot did not issue never halts; a second click on a used confirmation is answered with
// the report of the panic it started instead of flattening again. Redis only records the use: when Redis is down
// the signed token is still accepted — the kill switch must never fail closed.

import type { KeyObject } from "node:crypto";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Keys } from "../state/keys.js";

/** How long a confirmation can be clicked. */
export const CONFIRM_TTL_MS = 5 * 60_000;
/** The token carries the reason; longer reasons are cut to keep the button value under Slack's 2,000 characters. */
const REASON_BYTES = 1_000;

const payloadSchema = z.object({
  u: z.string().min(1),
  r: z.string(),
  e: z.number().int(),
  n: z.string().regex(/^[0-9a-f]{24}$/),
});

/** What a valid token says. */
export interface Confirmation {
  user: string;
  reason: string;
  expiresAt: number;
  nonce: string;
}

/** Derives the confirmation key from the audit signing key (a separate key by purpose, same secret material). */
export function confirmationKey(auditPrivateKey: KeyObject): Buffer {
  return createHash("sha256")
    .update("tradeguard panic confirmation v1\0")
    .update(auditPrivateKey.export({ format: "der", type: "pkcs8" }))
    .digest();
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** Cuts a string to at most `bytes` UTF-8 bytes without splitting a character. */
function cutBytes(s: string, bytes: number): string {
  if (Buffer.byteLength(s) <= bytes) return s;
  let out = "";
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > bytes - 3) break;
    out += ch;
  }
  return `${out}…`;
}

/** Issues the token for a confirmation shown to `user`. */
export function issueConfirmation(key: Buffer, user: string, reason: string, now: number): string {
  const payload = b64(
    JSON.stringify({
      u: user,
      r: cutBytes(reason, REASON_BYTES),
      e: now + CONFIRM_TTL_MS,
      n: randomBytes(12).toString("hex"),
    }),
  );
  return `v1.${payload}.${b64(createHmac("sha256", key).update(payload).digest())}`;
}

/** Checks a token for a click by `user`: the confirmation, or why it is refused. Pure. */
export function checkConfirmation(
  key: Buffer,
  token: string,
  user: string,
  now: number,
): { ok: true; confirmation: Confirmation } | { ok: false; why: string } {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3 || parts[0] !== "v1") return { ok: false, why: "not a confirmation this bot issued" };
  const expected = createHmac("sha256", key).update(parts[1]!).digest();
  const given = Buffer.from(parts[2]!, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, why: "not a confirmation this bot issued (bad signature)" };
  let payload: z.infer<typeof payloadSchema>;
  try {
    payload = payloadSchema.parse(JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")));
  } catch {
    return { ok: false, why: "not a confirmation this bot issued (malformed)" };
  }
  if (payload.u !== user) return { ok: false, why: "this confirmation was shown to someone else" };
  if (now > payload.e) return { ok: false, why: "this confirmation expired; run /panic again" };
  return { ok: true, confirmation: { user: payload.u, reason: payload.r, expiresAt: payload.e, nonce: payload.n } };
}

/**
 * Records the first use of a confirmation. "first": this click may halt; "used": an earlier click did, with the
 * panic id once known; "unrecorded": Redis could not record it (the click halts anyway).
 */
export async function claimConfirmation(
  redis: Redis,
  keys: Keys,
  c: Confirmation,
  now: number,
): Promise<{ kind: "first" } | { kind: "used"; panicId: string | null } | { kind: "unrecorded"; why: string }> {
  const key = keys.panicConfirm(c.nonce);
  try {
    const ttl = Math.max(1_000, c.expiresAt - now) + 3_600_000;
    if ((await redis.set(key, "starting", "PX", ttl, "NX")) === "OK") return { kind: "first" };
    const v = await redis.get(key);
    return { kind: "used", panicId: v && v !== "starting" ? v : null };
  } catch (err) {
    return { kind: "unrecorded", why: (err as Error).message };
  }
}

/** Notes which panic a confirmation started (so a late click gets its report). Best-effort. */
export async function recordConfirmationPanic(redis: Redis, keys: Keys, nonce: string, panicId: string) {
  await redis.set(keys.panicConfirm(nonce), panicId, "KEEPTTL", "XX");
}
