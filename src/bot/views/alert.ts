// Block Kit for guard alerts: severity, what happened, value vs threshold, since when, the SOP, and Acknowledge.
// Every field of an alert comes from `alerts:open` in Redis, which other processes write: all of it is escaped.
import type { Button } from "@slack/types";
import { type AlertEvent, alertField, alertText, type OpenAlert } from "../../jobs/alerts.js";
import { sopLink } from "../../notify.js";
import { ids } from "../ids.js";
import { code, context, section, sopRef, userText } from "./common.js";
import { type Block, fitMessage } from "./limits.js";

const ICON: Record<string, string> = { info: ":information_source:", warn: ":warning:", critical: ":rotating_light:" };

/** The alert with every text field escaped and cut to a size that leaves room for the rest of the message. */
function shown(a: OpenAlert): OpenAlert {
  return {
    ...a,
    guard: userText(a.guard, 100),
    title: userText(a.title, 300),
    detail: userText(a.detail, 2000),
    since: userText(a.since, 64),
    count: Number(a.count) || 0,
    severity: userText(a.severity, 20) as OpenAlert["severity"],
    ...(a.value !== undefined ? { value: userText(a.value, 300) } : {}),
    ...(a.threshold ? { threshold: userText(a.threshold, 300) } : {}),
  };
}

/** The message for one alert event. */
export function alertView(
  e: AlertEvent,
  runbookUrl?: string,
): { text: string; blocks: Block[]; severity: "info" | "warn" | "critical"; sop: string } {
  const a = e.alert;
  const s = shown(a);
  const resolved = e.type === "resolved";
  const head = resolved
    ? `:white_check_mark: *Resolved* — ${s.title}`
    : `${ICON[a.severity] ?? ":grey_question:"} *${s.severity.toUpperCase()}${e.type === "escalated" ? " (escalated)" : ""}* — ${s.title}`;
  const vt = s.value !== undefined ? `\n*Value* ${s.value}${s.threshold ? ` · *threshold* ${s.threshold}` : ""}` : "";
  const blocks: Block[] = [
    section(`${head}\n${s.detail}${vt}`),
    context(
      `guard ${code(a.guard, 100)} · since ${s.since}${s.count > 1 ? ` · seen ${s.count}×` : ""}${a.ackedBy ? ` · acknowledged by ${userText(a.ackedBy, 100)}` : ""}`,
    ),
  ];
  if (!resolved) {
    const elements: Button[] = [];
    if (runbookUrl)
      elements.push({
        type: "button",
        action_id: ids.openSop,
        text: { type: "plain_text", text: "Open SOP" },
        url: sopLink(runbookUrl, a.sop),
      });
    elements.push({
      type: "button",
      action_id: ids.alertAck,
      text: { type: "plain_text", text: "Acknowledge" },
      value: alertField(a.stream, a.key).slice(0, 2000),
    });
    blocks.push({ type: "actions", elements });
    if (!runbookUrl) blocks.push(context(sopRef(undefined, a.sop, "SOP")));
  }
  // The fallback text is built from the escaped fields: Slack renders mentions in `text` too.
  return fitMessage({
    text: alertText({ ...e, alert: s }),
    blocks,
    severity: resolved ? "info" : a.severity,
    sop: a.sop,
  });
}
