// The S3 client for the configured section, and one way to send a command: with a deadline on every call.
// Credentials come from the SDK's default provider chain (env, shared files, SSO, instance/container role); tests pass
// static ones through `overrides`.
import { S3Client, type S3ClientConfig, S3ServiceException } from "@aws-sdk/client-s3";
import type { S3Config } from "./config.js";

/** Deadline of one S3 call (connect + request + response), and the SDK's attempts within it. */
export const CALL_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 3_000;

/** Builds a client for the `s3` section; `overrides` are merged last (tests: credentials, an https agent). */
export function createS3Client(s3: Pick<S3Config, "region" | "endpoint">, overrides: Partial<S3ClientConfig> = {}) {
  return new S3Client({
    region: s3.region,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: CALL_TIMEOUT_MS },
    ...(s3.endpoint
      ? {
          endpoint: s3.endpoint,
          forcePathStyle: true,
          // S3-compatible servers (Ceph RGW Pacific) refuse the SDK's default flexible checksums on streaming
          // uploads (411); send checksums only where the operation requires one. Object puts carry Content-MD5.
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
        }
      : {}),
    ...overrides,
  });
}

/** The options of one `client.send` call: its deadline (CALL_TIMEOUT_MS unless given). */
export function deadline(timeoutMs = CALL_TIMEOUT_MS): { abortSignal: AbortSignal } {
  return { abortSignal: AbortSignal.timeout(timeoutMs) };
}

/** The S3 error code of a failed call ("NoSuchBucket", "AccessDenied", …), or null for a non-S3 error. */
export function s3ErrorCode(err: unknown): string | null {
  if (err instanceof S3ServiceException) return err.name;
  const e = err as { name?: string; $metadata?: unknown };
  return e?.$metadata && typeof e.name === "string" ? e.name : null;
}

/** The HTTP status of a failed call, when there was a response. */
export function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** One line describing a failed call, for warnings and findings ("AccessDenied (403): …"). */
export function describeS3Error(err: unknown): string {
  const code = s3ErrorCode(err) ?? (err as Error)?.name ?? "Error";
  const status = httpStatus(err);
  const msg = (err as Error)?.message;
  return `${code}${status ? ` (${status})` : ""}${msg && msg !== "UnknownError" && msg !== code ? `: ${msg}` : ""}`;
}
