// The monthly report's P&L per strategy: FIFO realized P&L of the month's closing fills, less the fees of its fills,
// from the fills ledger `ledger:fills` (the same FIFO lots as /recon, src/recon/fifo.ts, kept per strategy, broker and
// symbol). Lots opened before the month count as opening lots, so the whole ledger up to the month's end is read.
// Unrealized P&L (open positions marked to market) needs prices tradeguard does not keep: it is not included, and
// the section says so. Fills without a `strategy` field are summed as "(untagged)". Exact integers throughout.
import { FifoLedger } from "../recon/fifo.js";
import { formatProductMoney, ONE } from "../recon/fixed.js";
import { entryToRow, LEDGER_STREAM, parseLedgerFill } from "../recon/ledger.js";
import { STRATEGY_RE } from "../recon/ledger-slippage.js";
import { noData, ok, type PnlRow, type Section } from "./model.js";
import type { Period } from "./period.js";
import { periodDates } from "./slippage.js";
import type { ReportSources } from "./sources.js";

export const UNTAGGED = "(untagged)";
const SEP = "\u001f";
const PAGE = 5_000;
/** Ledger writers may be this far behind the clock (stream ids are the Redis time of the XADD). */
const LATE_MS = 60_000;

type Acc = { realized: bigint; fees: bigint; fills: number };

/** The P&L section of `period`; unreadable ledger entries are counted in `problems`. */
export async function pnlSection(
  src: ReportSources,
  period: Period,
  problems: string[],
): Promise<Section<{ rows: PnlRow[]; net: string }>> {
  const dates = periodDates(period);
  const [first, last] = [dates[0]!, dates[dates.length - 1]!];
  const acc = new Map<string, Acc>();
  const get = (s: string) => {
    const a = acc.get(s) ?? { realized: 0n, fees: 0n, fills: 0 };
    acc.set(s, a);
    return a;
  };
  const inMonth = (d: string) => d >= first && d <= last;
  const fifo = new FifoLedger({
    onBooked: (fill, realized) => {
      if (!inMonth(fill.tradeDate)) return;
      const a = get(fill.broker.slice(0, fill.broker.indexOf(SEP)));
      a.realized += realized;
    },
  });
  const key = src.keys.raw(LEDGER_STREAM);
  const end = String(Date.parse(period.to) + LATE_MS);
  let bad = 0;
  let tagged = 0;
  let start = "-";
  for (;;) {
    const rows = (await src.redis.xrange(key, start, end, "COUNT", PAGE)) as [string, string[]][];
    for (const [id, fields] of rows) {
      const row = entryToRow(fields);
      const fill = typeof row === "string" ? null : parseLedgerFill(row, `${LEDGER_STREAM} ${id}`);
      if (!fill || !("fillId" in fill)) {
        bad++;
        continue;
      }
      const strategy = typeof row !== "string" && STRATEGY_RE.test(row.strategy ?? "") ? row.strategy! : UNTAGGED;
      if (strategy !== UNTAGGED) tagged++;
      if (fill.tsMs >= Date.parse(period.to)) continue;
      if (inMonth(fill.tradeDate)) {
        const a = get(strategy);
        a.fees += fill.fee;
        a.fills++;
      }
      if (fifo.add({ ...fill, broker: `${strategy}${SEP}${fill.broker}` }) !== null) bad++;
    }
    if (rows.length < PAGE) break;
    start = `(${rows[rows.length - 1]![0]}`;
  }
  fifo.flush();
  if (bad)
    problems.push(
      `${LEDGER_STREAM}: ${bad} entr${bad === 1 ? "y" : "ies"} could not be booked (run \`tradeguard recon\` for the reasons)`,
    );
  const list = [...acc].filter(([, a]) => a.fills > 0 || a.realized !== 0n);
  if (list.length === 0) return noData(`no fill in ${LEDGER_STREAM} in the period`);
  if (tagged === 0)
    return noData(`no fill in ${LEDGER_STREAM} carries a \`strategy\` field, so P&L cannot be split by strategy`);
  const net = (a: Acc) => a.realized - a.fees * ONE;
  const rows: PnlRow[] = list
    .map(([strategy, a]) => ({
      strategy,
      realized: formatProductMoney(a.realized),
      fees: formatProductMoney(a.fees * ONE),
      net: formatProductMoney(net(a)),
      fills: a.fills,
    }))
    .sort((a, b) =>
      a.strategy === UNTAGGED ? 1 : b.strategy === UNTAGGED ? -1 : a.strategy.localeCompare(b.strategy),
    );
  return ok({ rows, net: formatProductMoney(list.reduce((n, [, a]) => n + net(a), 0n)) }, [
    "Realized P&L (FIFO, the period's closing fills) less the fees of the period's fills; unrealized P&L of open positions is not included.",
  ]);
}
