// Block Kit for /panic: the confirmation with the blast radius, progress, and the final report.
import type { BlastRadius } from "../../ops/blast-radius.js";
import type { PanicReport } from "../../ops/panic-report.js";
import { ids } from "../ids.js";
import { type Block, context, divider, esc, section, sopBlock, who } from "./common.js";

/** The ephemeral confirmation: blast radius per broker and exactly one danger button. */
export function panicConfirmView(radius: BlastRadius, reason: string): { text: string; blocks: Block[] } {
  const lines = radius.brokers.map((b) => {
    const base = `• *${esc(b.broker)}* (${b.kind}): ${b.openOrders} open orders, ${b.positions} positions, gross notional ${b.grossNotional}`;
    const extra: string[] = [];
    if (b.error) extra.push(`   :warning: could not read live: ${esc(b.error)}`);
    for (const o of b.notCancellable)
      extra.push(`   :no_entry: order ${esc(o.id)} ${esc(o.symbol)} is ${esc(o.status)}: cannot be cancelled now`);
    return [base, ...extra].join("\n");
  });
  const value = JSON.stringify({ reason }).slice(0, 2000);
  return {
    text: `Confirm PANIC: halt trading and flatten ${radius.totals.openOrders} orders / ${radius.totals.positions} positions`,
    blocks: [
      section(
        `:rotating_light: *Confirm PANIC* — reason: _${esc(reason)}_\nThis sets *mode=halt*, cancels every open order and closes every position on every broker.`,
      ),
      section(lines.join("\n") || "_No brokers configured._"),
      context(
        `Totals: ${radius.totals.openOrders} open orders, ${radius.totals.positions} positions, gross notional ${radius.totals.grossNotional} · read live at ${radius.readAt}`,
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
  };
}

/** The report (progress while RUNNING, then HALT-VERIFIED / HALT-PARTIAL). */
export function panicReportView(r: PanicReport, runbookUrl?: string): { text: string; blocks: Block[] } {
  const icon =
    r.status === "HALT-VERIFIED" ? ":white_check_mark:" : r.status === "RUNNING" ? ":hourglass_flowing_sand:" : ":x:";
  const blocks: Block[] = [
    section(`${icon} *${r.status}* — panic \`${r.id}\` by ${who(r.actor)}\nReason: _${esc(r.reason)}_`),
  ];
  if (r.haltFlag === "not_set")
    blocks.push(
      section(":bangbang: *The halt flag could NOT be set in Redis*: trading processes have not been told to stop."),
    );
  for (const b of r.brokers) {
    const ok = (xs: { ok: boolean }[]) => xs.filter((x) => x.ok).length;
    let text = `${b.verified ? ":white_check_mark:" : ":x:"} *${esc(b.broker)}* (${b.kind}): ${ok(b.cancelled)} orders cancelled, ${ok(b.closed)} positions closed, ${b.rounds} round(s), ${b.durationMs} ms`;
    if (b.remaining) {
      for (const o of b.remaining.orders.slice(0, 10))
        text += `\n   open: ${esc(o.id)} ${o.side} ${o.qty ?? "?"} ${esc(o.symbol)} (${esc(o.status)})`;
      for (const p of b.remaining.positions.slice(0, 10)) text += `\n   position: ${esc(p.symbol)} ${p.qty}`;
      const more = Math.max(0, b.remaining.orders.length - 10) + Math.max(0, b.remaining.positions.length - 10);
      if (more > 0) text += `\n   … and ${more} more (see \`tradeguard status --json\`)`;
    } else if (!b.verified) text += "\n   could not re-query the broker: state unknown";
    for (const e of b.errors.slice(0, 5)) text += `\n   :warning: ${esc(e)}`;
    blocks.push(section(text));
  }
  if (r.status === "RUNNING")
    blocks.push(context("Cancelling and flattening… this message updates as brokers report."));
  if (r.snapshot) blocks.push(context(`Snapshot: ${esc(r.snapshot)}`));
  else if (r.snapshotError)
    blocks.push(section(`:warning: *Snapshot failed*: ${esc(r.snapshotError)} — the state at the halt was not saved.`));
  if (r.redisErrors.length)
    blocks.push(
      section(
        `:warning: *Redis failed during the panic* (the brokers were flattened anyway):\n${r.redisErrors
          .slice(0, 5)
          .map((e) => `• ${esc(e)}`)
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
  return { text: `${r.status}: panic ${r.id} (${r.reason})`, blocks };
}
