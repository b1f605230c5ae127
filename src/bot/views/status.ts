// Block Kit for /status (and App Home). Everything shown comes from Redis, which other processes write: each text is
// escaped and cut to a size that leaves room for the rest, and only who() makes mentions.
import type { StatusView } from "../../ops/status.js";
import { code, context, section, userText, who } from "./common.js";
import { type Block, fitMessage, type SlackMessage } from "./limits.js";

const MODE_ICON: Record<string, string> = {
  active: ":large_green_circle:",
  reduce_only: ":large_yellow_circle:",
  halt: ":red_circle:",
};

const GUARD_ICON: Record<string, string> = {
  ok: ":white_check_mark:",
  warn: ":warning:",
  critical: ":rotating_light:",
  stale: ":hourglass:",
  error: ":x:",
  not_configured: ":white_circle:",
};

/** One-screen status summary. */
export function statusView(s: StatusView): SlackMessage {
  return fitMessage({
    text: `Mode: ${userText(s.mode, 20)}${s.reason ? ` (${userText(s.reason, 1000)})` : ""}`,
    blocks: statusBlocks(s),
  });
}

/** The blocks of the summary, before fitting (App Home adds its own around them and fits to its 100 blocks). */
export function statusBlocks(s: StatusView): Block[] {
  const blocks: Block[] = [
    section(
      `${MODE_ICON[s.mode] ?? ":grey_question:"} Mode *${userText(s.mode, 20)}*${s.since ? ` since ${userText(s.since, 64)}` : ""}${s.actor ? ` by ${who(s.actor)}` : ""}${s.reason ? `\nReason: _${userText(s.reason, 1500)}_` : ""}`,
    ),
  ];
  if (s.invalid) blocks.push(section(`:bangbang: ${userText(s.invalid, 1000)} — treated as *halt*.`));
  if (s.unreadable.length) {
    const shown = s.unreadable.slice(0, 10).map((u) => `• ${code(u.key, 120)}: ${userText(u.problem, 200)}`);
    if (s.unreadable.length > 10) shown.push(`… and ${s.unreadable.length - 10} more (\`tradeguard status\`)`);
    blocks.push(
      section(
        `:warning: *Unreadable in Redis* (${s.unreadable.length}) — shown without them; see the state-integrity SOP:\n${shown.join("\n")}`,
      ),
    );
  }
  if (s.panicRunning) blocks.push(section(`:rotating_light: Panic ${code(s.panicRunning)} is running.`));
  if (s.soakUntil)
    blocks.push(section(`:hourglass: Reduce-only soak until ${userText(s.soakUntil, 64)}, then active.`));
  if (s.clearRequest)
    blocks.push(
      section(
        `:vertical_traffic_light: Resume request ${code(s.clearRequest.id)} by ${who(s.clearRequest.requester)} waiting (${s.clearRequest.approvals.length} approval(s)), expires ${userText(s.clearRequest.expiresAt, 64)}.`,
      ),
    );
  if (s.guards.length) {
    const bad = s.guards.filter((g) => g.state !== "ok" && g.state !== "not_configured");
    const off = s.guards.filter((g) => g.state === "not_configured");
    const name = (g: { name: string }) => userText(g.name, 64);
    const line = s.guards.map((g) => `${GUARD_ICON[g.state] ?? ":grey_question:"} ${name(g)}`).join("  ");
    const details = [
      ...bad.map((g) => `• *${name(g)}* ${userText(g.state, 20)}: ${userText(g.detail, 300)}`),
      ...off.map((g) => `• *${name(g)}* off: ${userText(g.detail, 300)}`),
    ].join("\n");
    blocks.push(section(`*Guards*\n${line}${details ? `\n${details}` : ""}`));
  }
  const flags: string[] = [];
  if (s.flags.eventLock) flags.push(`:lock: Event lock: ${code(s.flags.eventLock, 300)}`);
  if (s.flags.luldPaused) flags.push(`:pause_button: LULD pauses: ${s.flags.luldPaused} symbol(s)`);
  if (s.flags.ssrActive) flags.push(`:arrow_down_small: SSR (Rule 201) list: ${s.flags.ssrActive} symbol(s)`);
  if (flags.length) blocks.push(section(flags.join("\n")));
  if (s.alerts.length) {
    const shown = s.alerts
      .slice(0, 8)
      .map(
        (a) =>
          `• ${a.severity === "critical" ? ":rotating_light:" : ":warning:"} ${userText(a.title, 200)} (since ${userText(a.since, 64)}${Number(a.count) > 1 ? `, ${Number(a.count)}×` : ""}${a.ackedBy ? `, acked by ${userText(a.ackedBy, 64)}` : ""})`,
      );
    if (s.alerts.length > 8) shown.push(`… and ${s.alerts.length - 8} more (\`tradeguard status --json\`)`);
    blocks.push(section(`*Open alerts* (${s.alerts.length})\n${shown.join("\n")}`));
  }
  if (s.keys.length)
    blocks.push(
      context(
        `Keys: ${s.keys
          .slice(0, 8)
          .map(
            (k) =>
              `${userText(k.broker, 40)} ${k.keyId ? `${code(k.keyId, 40)} ${k.ageDays} d` : ":warning: no key"}${k.rotation ? ` · rotation ${code(k.rotation, 40)} waiting` : k.pendingKeyId ? ` · ${code(k.pendingKeyId, 40)} staged` : ""}`,
          )
          .join(" · ")}`,
      ),
    );
  if (s.recon.length)
    blocks.push(
      context(
        `Recon: ${s.recon
          .slice(0, 8)
          .map(
            (r) =>
              `${userText(r.broker ?? "all", 40)} ${userText(r.date, 10)} ${r.errors ? ":x: could not reconcile" : r.ok ? ":white_check_mark: ok" : `:x: ${r.mismatches} mismatch(es)`}`,
          )
          .join(" · ")}`,
      ),
    );
  if (s.lastPanic)
    blocks.push(
      context(
        `Last panic ${code(s.lastPanic.id)}: ${userText(s.lastPanic.status, 40)} · ${userText(s.lastPanic.finishedAt ?? "running", 64)} · ${userText(s.lastPanic.reason, 500)}`,
      ),
    );
  const brokers = s.brokers.map((b) => `${userText(b.name, 64)} (${userText(b.kind, 40)})`).join(", ");
  blocks.push(context(`Brokers: ${brokers || "none"}`));
  return blocks;
}
