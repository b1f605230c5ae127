// Block Kit for /recon: per broker, running / ok / N mismatches with the top five, and the recon SOP.
import type { Mismatch, ReconResult } from "../../recon/types.js";
import { code, context, divider, header, section, sopBlock, userText } from "./common.js";
import { type Block, fitMessage, type SlackMessage } from "./limits.js";

/** One broker's line of a /recon run. */
export type ReconLine =
  | { broker: string; state: "running" }
  | { broker: string; state: "done"; result: ReconResult }
  | { broker: string; state: "failed"; error: string };

const line = (m: Mismatch) =>
  `• ${m.kind} ${m.symbol ? userText(m.symbol, 32) : ""}${m.order_id ? ` ${code(m.order_id, 64)}` : ""}: ours ${userText(m.ours ?? "—", 40)}, theirs ${userText(m.theirs ?? "—", 40)}${m.diff ? ` (diff ${userText(m.diff, 40)})` : ""}`;

/** The /recon message for `date`. */
export function reconView(
  date: string,
  lines: ReconLine[],
  top: (r: ReconResult) => Mismatch[],
  runbookUrl?: string,
): SlackMessage {
  const blocks: Block[] = [header(`Recon ${date}`)];
  if (lines.length === 0)
    blocks.push(
      section(
        "No configured broker can supply its statement live (only `kind: alpaca`). Run `tradeguard recon --date … --statement FILE` with the broker's statement.",
      ),
    );
  let bad = 0;
  for (const l of lines) {
    const name = `*${userText(l.broker, 64)}*`;
    if (l.state === "running") blocks.push(section(`:hourglass_flowing_sand: ${name}: reconciling…`));
    else if (l.state === "failed") {
      bad++;
      blocks.push(section(`:x: ${name}: could not run — ${userText(l.error, 500)}`));
    } else if (l.result.ok)
      blocks.push(section(`:white_check_mark: ${name}: ok — ${l.result.rows} rows, everything matches`));
    else {
      bad++;
      const r = l.result;
      const head = r.errors.length
        ? `:x: ${name}: *could not reconcile* — ${r.errors.length} input row(s) unreadable`
        : `:x: ${name}: *${r.mismatches.length} mismatch(es)*`;
      const shown = top(r).map(line);
      if (r.mismatches.length > shown.length) shown.push(`… and ${r.mismatches.length - shown.length} more`);
      const errs = r.errors.slice(0, 3).map((e) => `• ${code(e.where, 80)}: ${userText(e.reason, 200)}`);
      blocks.push(section([head, ...errs, ...shown].join("\n")));
    }
  }
  if (bad > 0) blocks.push(divider(), sopBlock(runbookUrl, "sop-recon", "SOP: Recon mismatch"));
  blocks.push(
    context("Statement vs our FIFO ledger, exact to the cent · `tradeguard recon --date … --json` for all rows"),
  );
  const summary = lines.map(
    (l) =>
      `${l.broker}: ${l.state === "done" ? (l.result.ok ? "ok" : `${l.result.mismatches.length} mismatch(es)`) : l.state}`,
  );
  return fitMessage({ text: `Recon ${date}: ${summary.join(", ") || "no broker"}`, blocks });
}
