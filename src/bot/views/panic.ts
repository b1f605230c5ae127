// Block Kit for /panic: the confirmation with the blast radius, progress, and the final report. Reasons come from
// users and everything else from brokers or Redis: all of it is escaped, and only who() makes a mention.
import type { BlastRadius } from "../../ops/blast-radius.js";
import type { PanicReport } from "../../ops/panic-report.js";
import { ids } from "../ids.js";
import { code, context, divider, section, sopBlock, sopRef, userText, who } from "./common.js";
import { type Block, fitMessage, type SlackMessage } from "./limits.js";
import { byDecimalDesc, codeTable, groupDigits, sumDecimals } from "./table.js";

/** Brokers shown in the blast-radius table; the others are folded into one row (their sums, exact). */
const TABLE_BROKERS = 20;
/** Brokers whose problems (a failed live read, orders that cannot be cancelled) are spelled out under the table. */
const PROBLEM_BROKERS = 8;

/** Characters the problem lines may take in their section (the "and N more" line fits after them). */
const PROBLEM_ROOM = 2_800;

/** One broker's problems: a live read that failed, orders that cannot be cancelled now. */
function problemLines(b: BlastRadius["brokers"][number]): string {
  const out: string[] = [];
  if (b.error) out.push(`:warning: *${userText(b.broker, 100)}*: could not read live: ${userText(b.error, 300)}`);
  if (b.notCancellable.length) {
    const shown = b.notCancellable
      .slice(0, 5)
      .map((o) => `${userText(o.id, 80)} ${userText(o.symbol, 40)} (${userText(o.status, 40)})`);
    const more = b.notCancellable.length > 5 ? ` and ${b.notCancellable.length - 5} more` : "";
    out.push(
      `:no_entry: *${userText(b.broker, 100)}*: ${b.notCancellable.length} order(s) cannot be cancelled now: ${shown.join(", ")}${more}`,
    );
  }
  return out.join("\n");
}

/** The blast radius as a table: per broker orders, positions and gross notional (exact decimals), then the totals. */
export function blastRadiusTable(radius: BlastRadius): string {
  const brokers = [...radius.brokers].sort((a, b) => byDecimalDesc(a.grossNotional, b.grossNotional));
  const row = (b: BlastRadius["brokers"][number]) => [
    `${b.error ? "⚠ " : ""}${b.broker}`,
    b.kind,
    String(b.openOrders),
    String(b.positions),
    groupDigits(b.grossNotional),
  ];
  const folded = (hidden: readonly string[][]) => {
    const rest = brokers.slice(brokers.length - hidden.length);
    const gross = sumDecimals(rest.map((b) => b.grossNotional));
    return [
      `… and ${rest.length} more`,
      "",
      String(rest.reduce((n, b) => n + b.openOrders, 0)),
      String(rest.reduce((n, b) => n + b.positions, 0)),
      gross === null ? "see CLI" : groupDigits(gross),
    ];
  };
  const t = radius.totals;
  return codeTable(
    [
      { title: "Broker", align: "left", max: 24 },
      { title: "Kind", align: "left", max: 8 },
      { title: "Orders", align: "right", max: 9 },
      { title: "Positions", align: "right", max: 9 },
      { title: "Gross notional", align: "right", max: 24 },
    ],
    brokers.map(row),
    {
      maxRows: TABLE_BROKERS,
      rest: folded,
      footer: [["Total", "", String(t.openOrders), String(t.positions), groupDigits(t.grossNotional)]],
    },
  );
}

/** The ephemeral confirmation: the blast radius per broker as a table, its problems, and exactly one danger button. */
export function panicConfirmView(
  radius: BlastRadius,
  reason: string,
  confirmation: string,
  runbookUrl?: string,
): SlackMessage {
  const problems = radius.brokers.filter((b) => b.error || b.notCancellable.length);
  const lines: string[] = [];
  let room = PROBLEM_ROOM;
  for (const b of problems.slice(0, PROBLEM_BROKERS)) {
    const text = problemLines(b);
    if (text.length > room) break;
    room -= text.length + 1;
    lines.push(text);
  }
  if (problems.length > lines.length) lines.push(`… and ${problems.length - lines.length} more brokers with problems`);
  const blocks: Block[] = [
    section(
      `:rotating_light: *Confirm PANIC* — reason: _${userText(reason, 1500)}_\nThis sets *mode=halt*, cancels every open order and closes every position on every broker.`,
    ),
    section(radius.brokers.length ? `*Blast radius*\n${blastRadiusTable(radius)}` : "_No brokers configured._"),
  ];
  if (lines.length) blocks.push(section(lines.join("\n")));
  blocks.push(
    context(
      `Read live at ${userText(radius.readAt, 64)} · ⚠ marks a broker whose live state could not be read · ${sopRef(runbookUrl, "sop-panic", "SOP: Panic")}`,
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
          // The token the bot issued for this user's confirmation (src/ops/panic-confirm.ts): ≤ 2,000 characters.
          value: confirmation,
        },
        { type: "button", action_id: ids.panicCancel, text: { type: "plain_text", text: "Cancel" }, value: "cancel" },
      ],
    },
  );
  return fitMessage({
    text: `Confirm PANIC: halt trading and flatten ${radius.totals.openOrders} orders / ${radius.totals.positions} positions`,
    blocks,
  });
}

/** The report (progress while RUNNING, then HALT-VERIFIED / HALT-PARTIAL). */
export function panicReportView(r: PanicReport, runbookUrl?: string): SlackMessage {
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
