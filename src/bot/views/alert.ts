// Block Kit for guard alerts: severity, what happened, value vs threshold, since when, the SOP, and Acknowledge.
import { type AlertEvent, alertField, alertText } from "../../jobs/alerts.js";
import { sopLink } from "../../notify.js";
import { ids } from "../ids.js";
import { type Block, context, esc, section } from "./common.js";

const ICON = { info: ":information_source:", warn: ":warning:", critical: ":rotating_light:" } as const;

/** The message for one alert event. */
export function alertView(
  e: AlertEvent,
  runbookUrl?: string,
): { text: string; blocks: Block[]; severity: "info" | "warn" | "critical"; sop: string } {
  const a = e.alert;
  const resolved = e.type === "resolved";
  const head = resolved
    ? `:white_check_mark: *Resolved* — ${esc(a.title)}`
    : `${ICON[a.severity]} *${a.severity.toUpperCase()}${e.type === "escalated" ? " (escalated)" : ""}* — ${esc(a.title)}`;
  const vt =
    a.value !== undefined ? `\n*Value* ${esc(a.value)}${a.threshold ? ` · *threshold* ${esc(a.threshold)}` : ""}` : "";
  const blocks: Block[] = [
    section(`${head}\n${esc(a.detail)}${vt}`),
    context(
      `guard \`${a.guard}\` · since ${a.since}${a.count > 1 ? ` · seen ${a.count}×` : ""}${a.ackedBy ? ` · acknowledged by ${a.ackedBy}` : ""}`,
    ),
  ];
  if (!resolved) {
    const elements: Block[] = [];
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
    if (!runbookUrl) blocks.push(context(`SOP: RUNBOOK.md#${a.sop} (\`/runbook ${a.sop}\`)`));
  }
  return { text: alertText(e), blocks, severity: resolved ? "info" : a.severity, sop: a.sop };
}
