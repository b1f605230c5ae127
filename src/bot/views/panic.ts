// Block Kit for /panic: the confirmation with the blast radius, progress, and the final report. Reasons come from
// users and everything else from brokers or Redis: all of it is escaped, and only who() makes a mention.
import type { BlastRadius } from "../../ops/blast-radius.js";
import type { PanicReport } from "../../ops/panic-report.js";
import { ids } from "../ids.js";
import { code, context, divider, section, sopBlock, userText, who } from "./common.js";
import { type Block, fitMessage } from "./limits.js";

/** The ephemeral confirmation: blast radius per broker and exactly one danger button. */
export function panicConfirmView(
  radius: BlastRadius,
  reason: string,
  confirmation: string,
): { text: string; blocks: Block[] } {
  const lines = radius.brokers.map((b) => {
    const base = `• *${userText(b.broker, 100)}* (${userText(b.kind, 40)}): ${b.openOrders} open orders, ${b.positions} positions, gross notional ${userText(b.grossNotional, 40)}`;
    const extra: string[] = [];
    if (b.error) extra.push(`   :warning: could not read live: ${userText(b.error, 300)}`);
    for (const o of b.notCancellable.slice(0, 10))
      extra.push(
        `   :no_entry: order ${userText(o.id, 80)} ${userText(o.symbol, 40)} is ${userText(o.status, 40)}: cannot be cancelled now`,
      );
    if (b.notCancellable.length > 10)
      extra.push(`   … and ${b.notCancellable.length - 10} more orders that cannot be cancelled`);
    return [base, ...extra].join("\n");
  });
  // The token the bot issued for this user's confirmation (src/ops/panic-confirm.ts): ≤ 2,000 characters by design.
  const value = confirmation;
  return fitMessage({
    text: `Confirm PANIC: halt trading and flatten ${radius.totals.openOrders} orders / ${radius.totals.positions} positions`,
    blocks: [
      section(
        `:rotating_light: *Confirm PANIC* — reason: _${userText(reason, 1500)}_\nThis sets *mode=halt*, cancels every open order and closes every position on every broker.`,
      ),
      section(lines.join("\n") || "_No brokers configured._"),
      context(
        `Totals: ${radius.totals.openOrders} open orders, ${radius.totals.positions} positions, gross notional ${userText(radius.totals.grossNotional, 40)} · read live at ${userText(radius.readAt, 64)}`,
      ),
      {
        type: "actions",
        block_id: "panic_confirm_actions",
        elements: [
          {
            type: "button",
            action_id: ids.panicConfirm,
            style: "danger",
            text: { type: "plain_text", text: "HALT AND FLATTEN" },
            value,
          },
          { type: "button", action_id: ids.panicCancel, text: { type: "plain_text", text: "Cancel" }, value: "cancel" },
        ],
      },
    ],
  });
}

/** The report (progress while RUNNING, then HALT-VERIFIED / HALT-PARTIAL). */
export function panicReportView(r: PanicReport, runbookUrl?: string): { text: string; blocks: Block[] } {
  const icon =
    r.status === "HALT-VERIFIED" ? ":white_check_mark:" : r.status === "RUNNING" ? ":hourglass_flowing_sand:" : ":x:";
  const blocks: Block[] = [
    section(
      `${icon} *${userText(r.status, 40)}* — panic ${code(r.id)} by ${who(r.actor)}\nReason: _${userText(r.reason, 1500)}_`,
    ),
  ];
  if (r.haltFlag === "not_set")
    blocks.push(
      section(":bangbang: *The halt flag could NOT be set in Redis*: trading processes have not been told to stop."),
    );
  for (const b of r.brokers) {
    const ok = (xs: { ok: boolean }[]) => xs.filter((x) => x.ok).length;
    let text = `${b.verified ? ":white_check_mark:" : ":x:"} *${userText(b.broker, 100)}* (${userText(b.kind, 40)}): ${ok(b.cancelled)} orders cancelled, ${ok(b.closed)} positions closed, ${b.rounds} round(s), ${b.durationMs} ms`;
    if (b.remaining) {
      for (const o of b.remaining.orders.slice(0, 10))
        text += `\n   open: ${userText(o.id, 80)} ${userText(o.side, 10)} ${userText(o.qty ?? "?", 40)} ${userText(o.symbol, 40)} (${userText(o.status, 40)})`;
      for (const p of b.remaining.positions.slice(0, 10))
        text += `\n   position: ${userText(p.symbol, 40)} ${userText(p.qty, 40)}`;
      const more = Math.max(0, b.remaining.orders.length - 10) + Math.max(0, b.remaining.positions.length - 10);
      if (more > 0) text += `\n   … and ${more} more (see \`tradeguard status --json\`)`;
    } else if (!b.verified) text += "\n   could not re-query the broker: state unknown";
    for (const e of b.errors.slice(0, 5)) text += `\n   :warning: ${userText(e, 300)}`;
    blocks.push(section(text));
  }
  if (r.status === "RUNNING")
    blocks.push(context("Cancelling and flattening… this message updates as brokers report."));
  if (r.snapshot) blocks.push(context(`Snapshot: ${userText(r.snapshot, 500)}`));
  else if (r.snapshotError)
    blocks.push(
      section(`:warning: *Snapshot failed*: ${userText(r.snapshotError, 1000)} — the state at the halt was not saved.`),
    );
  if (r.redisErrors.length)
    blocks.push(
      section(
        `:warning: *Redis failed during the panic* (the brokers were flattened anyway):\n${r.redisErrors
          .slice(0, 5)
          .map((e) => `• ${userText(e, 300)}`)
          .join("\n")}`,
      ),
    );
  if (r.status !== "RUNNING") {
    blocks.push(divider());
    blocks.push(
      sopBlock(
        runbookUrl,
        r.status === "HALT-PARTIAL" ? "sop-halt-partial" : "sop-panic",
        r.status === "HALT-PARTIAL" ? "SOP: HALT-PARTIAL" : "SOP: Panic",
      ),
    );
  }
  return fitMessage({
    text: `${userText(r.status, 40)}: panic ${userText(r.id, 100)} (${userText(r.reason, 1000)})`,
    blocks,
  });
}
