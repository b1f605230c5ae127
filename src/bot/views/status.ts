// Block Kit for /status.
import type { StatusView } from "../../ops/status.js";
import { type Block, context, esc, section, who } from "./common.js";

const MODE_ICON = {
  active: ":large_green_circle:",
  reduce_only: ":large_yellow_circle:",
  halt: ":red_circle:",
} as const;

const GUARD_ICON = {
  ok: ":white_check_mark:",
  warn: ":warning:",
  critical: ":rotating_light:",
  stale: ":hourglass:",
  error: ":x:",
  not_configured: ":white_circle:",
} as const;

/** One-screen status summary. */
export function statusView(s: StatusView): { text: string; blocks: Block[] } {
  const blocks: Block[] = [
    section(
      `${MODE_ICON[s.mode]} Mode *${s.mode}*${s.since ? ` since ${s.since}` : ""}${s.actor ? ` by ${who(s.actor)}` : ""}${s.reason ? `\nReason: _${esc(s.reason)}_` : ""}`,
    ),
  ];
  if (s.invalid) blocks.push(section(`:bangbang: ${esc(s.invalid)} — treated as *halt*.`));
  if (s.panicRunning) blocks.push(section(`:rotating_light: Panic \`${s.panicRunning}\` is running.`));
  if (s.soakUntil) blocks.push(section(`:hourglass: Reduce-only soak until ${s.soakUntil}, then active.`));
  if (s.clearRequest)
    blocks.push(
      section(
        `:vertical_traffic_light: Resume request \`${s.clearRequest.id}\` by ${who(s.clearRequest.requester)} waiting (${s.clearRequest.approvals.length} approval(s)), expires ${s.clearRequest.expiresAt}.`,
      ),
    );
  if (s.guards.length) {
    const bad = s.guards.filter((g) => g.state !== "ok" && g.state !== "not_configured");
    const off = s.guards.filter((g) => g.state === "not_configured");
    const line = s.guards.map((g) => `${GUARD_ICON[g.state]} ${g.name}`).join("  ");
    const details = [
      ...bad.map((g) => `• *${g.name}* ${g.state}: ${esc(g.detail)}`),
      ...off.map((g) => `• *${g.name}* off: ${esc(g.detail)}`),
    ].join("\n");
    blocks.push(section(`*Guards*\n${line}${details ? `\n${details}` : ""}`));
  }
  const flags: string[] = [];
  if (s.flags.eventLock) flags.push(`:lock: Event lock: \`${esc(s.flags.eventLock.slice(0, 300))}\``);
  if (s.flags.luldPaused) flags.push(`:pause_button: LULD pauses: ${s.flags.luldPaused} symbol(s)`);
  if (s.flags.ssrActive) flags.push(`:arrow_down_small: SSR (Rule 201) list: ${s.flags.ssrActive} symbol(s)`);
  if (flags.length) blocks.push(section(flags.join("\n")));
  if (s.alerts.length) {
    const shown = s.alerts
      .slice(0, 8)
      .map(
        (a) =>
          `• ${a.severity === "critical" ? ":rotating_light:" : ":warning:"} ${esc(a.title)} (since ${a.since}${a.count > 1 ? `, ${a.count}×` : ""}${a.ackedBy ? `, acked by ${a.ackedBy}` : ""})`,
      );
    if (s.alerts.length > 8) shown.push(`… and ${s.alerts.length - 8} more (\`tradeguard status --json\`)`);
    blocks.push(section(`*Open alerts* (${s.alerts.length})\n${shown.join("\n")}`));
  }
  if (s.lastPanic)
    blocks.push(
      context(
        `Last panic \`${s.lastPanic.id}\`: ${s.lastPanic.status} · ${s.lastPanic.finishedAt ?? "running"} · ${esc(s.lastPanic.reason)}`,
      ),
    );
  blocks.push(context(`Brokers: ${s.brokers.map((b) => `${b.name} (${b.kind})`).join(", ") || "none"}`));
  return { text: `Mode: ${s.mode}${s.reason ? ` (${s.reason})` : ""}`, blocks };
}
