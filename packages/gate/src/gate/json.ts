// JSON values of the gate's keys, validated with zod: a value that is not JSON or fails its schema becomes
// `{ invalid: why }`, which every caller applies strictly (docs/gate.md: unreadable data never loosens the gate).
import type { z } from "zod";

/** Parses `json` against `schema`; `{ invalid }` (the first issue, with its path) when it cannot. */
export function safeJson<T extends z.ZodType>(json: string, schema: T): z.infer<T> | { invalid: string } {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return { invalid: "not JSON" };
  }
  const p = schema.safeParse(v);
  if (p.success) return p.data as z.infer<T>;
  const issue = p.error.issues[0];
  if (!issue) return { invalid: "invalid" };
  return { invalid: issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message };
}
