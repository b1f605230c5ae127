// What the Secrets Manager store reads and writes, as pure functions: which version holds which staging label, the
// SecretString format, and a failed call as an error that names the call and no secret.
import { z } from "zod";
import type { CredentialInfo, CredentialState } from "./store.js";
import { SecretStoreError } from "./store.js";

export type Label = "AWSCURRENT" | "AWSPENDING" | "AWSPREVIOUS";
export const LABEL: Record<CredentialState, Label> = {
  CURRENT: "AWSCURRENT",
  PENDING: "AWSPENDING",
  PREVIOUS: "AWSPREVIOUS",
};

export interface Version {
  versionId: string;
  stages: string[];
}
export interface Labels {
  exists: boolean;
  current?: string;
  pending?: string;
  previous?: string;
}
/** A labelled version with what its value says. */
export interface Stored extends CredentialInfo {
  versionId: string;
}

/**
 * Which version holds which of our labels. AWSPENDING on the AWSCURRENT version is a finished rotation, not a
 * pending one ("The rotation function must end with ... the AWSPENDING and AWSCURRENT staging labels attached to
 * the same version", API_RotateSecret); a version holding two of them counts as the first of CURRENT, PENDING.
 */
export function labelsOf(versions: Version[]): Omit<Labels, "exists"> {
  const find = (label: Label) => versions.find((v) => v.stages.includes(label))?.versionId;
  const current = find("AWSCURRENT");
  const pending = find("AWSPENDING");
  const previous = find("AWSPREVIOUS");
  return {
    current,
    pending: pending !== current ? pending : undefined,
    previous: previous !== current && previous !== pending ? previous : undefined,
  };
}

const valueSchema = z.object({
  key_id: z.string().min(1),
  secret: z.string().min(1),
  password: z.string().min(1).optional(),
  created_at: z.string().min(1),
});

/** A version's SecretString as tradeguard stores it; an error naming the version (never quoting it) otherwise. */
export function parseValue(id: string, versionId: string | undefined, text: string | undefined) {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? "");
  } catch {
    raw = undefined; // not the parser's message: it quotes the text, i.e. the secret
  }
  const parsed = valueSchema.safeParse(raw);
  if (!parsed.success) {
    throw new SecretStoreError(
      `AWS Secrets Manager ${id} version ${versionId}: the SecretString is not the JSON tradeguard stores ` +
        '({"key_id","secret","password"?,"created_at"}); fix or remove that version',
    );
  }
  return parsed.data;
}

/** A failed call, with the AWS error code (ResourceNotFoundException, ...) it failed with. */
export class AwsCallError extends SecretStoreError {
  constructor(
    message: string,
    readonly awsCode: string,
  ) {
    super(message);
  }
}

/** Whether `err` is a failed call with that AWS error code. */
export const isCode = (err: unknown, code: string) => err instanceof AwsCallError && err.awsCode === code;

/**
 * An SDK failure as an AwsCallError naming the call: the code, the HTTP status and AWS's message with any of
 * `secrets` masked. Not the SDK error as `cause`: its $response may carry the body of a request that held a secret.
 */
export function callError(
  op: string,
  id: string,
  err: unknown,
  deadlineMs: number,
  secrets: readonly (string | undefined)[],
): AwsCallError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.name ?? "Error";
  let message = e.name === "AbortError" ? `no answer within ${deadlineMs} ms, retries included` : e.message;
  for (const s of secrets) if (s) message = message?.split(s).join("[redacted]");
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
  return new AwsCallError(`AWS Secrets Manager ${op} ${id}: ${code}${status}: ${message ?? "failed"}`, code);
}
