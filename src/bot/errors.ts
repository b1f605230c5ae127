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

/**
 * Slack's escaping rule for message text: &, < and > are control characters (<!channel>, <@U…>, <url|label>), so
 * text not meant as one carries them as &amp; &lt; &gt;, and only those
 * (https://api.slack.com/reference/surfaces/formatting#escaping). Error messages quote what the user typed.
 */
export function escapeSlackText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Handles a listener error: logs it and tells the user via the interaction's response_url when there is one.
 * `fetch` is the transport's (it carries the timeout every outgoing call has).
 */
export async function handleSlackError(
  err: unknown,
  body: unknown,
  deps: { log: Logger; metrics: Metrics; fetch: typeof fetch },
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
  const responseUrl = (body as { response_url?: unknown } | undefined)?.response_url;
  if (typeof responseUrl !== "string" || !responseUrl) return;
  try {
    const res = await deps.fetch(responseUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        response_type: "ephemeral",
        replace_original: false,
        text: `:no_entry: ${escapeSlackText(d.message)}`,
      }),
    });
    await res.body?.cancel(); // the answer is not needed; release the connection
  } catch (e) {
    deps.log.error({ err: e }, "could not deliver the error reply to Slack");
  }
}
