// The one error path for Slack: typed errors become a clear ephemeral reply; anything else gets a correlation id
// that appears in both the log and the reply.
import { describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";

/** Unwraps Bolt's wrapper errors to the error a listener threw. */
export function unwrap(err: unknown): unknown {
  let e = err as { original?: unknown; originals?: unknown[] };
  while (e && typeof e === "object" && (e.original || e.originals?.length))
    e = (e.original ?? e.originals![0]) as typeof e;
  return e;
}

/** Handles a listener error: logs it and tells the user via the interaction's response_url when there is one. */
export async function handleSlackError(
  err: unknown,
  body: unknown,
  deps: { log: Logger; metrics: Metrics },
): Promise<void> {
  const original = unwrap(err);
  const d = describeError(original);
  deps.metrics.errors.inc({ code: d.expected ? ((original as { code?: string }).code ?? "expected") : "unexpected" });
  if (d.expected) deps.log.warn({ msg2: d.message }, "request refused");
  else
    deps.log.error(
      { err: original, correlationId: d.correlationId },
      `unexpected error (correlation id ${d.correlationId})`,
    );
  const responseUrl = (body as { response_url?: string; response_urls?: { response_url: string }[] } | undefined)
    ?.response_url;
  if (!responseUrl) return;
  try {
    await fetch(responseUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ response_type: "ephemeral", replace_original: false, text: `:no_entry: ${d.message}` }),
    });
  } catch (e) {
    deps.log.error({ err: e }, "could not deliver the error reply to Slack");
  }
}
