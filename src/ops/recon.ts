// /recon: the desk's end-of-day control. What the broker says happened (its statement) against what our trading
// processes recorded (the ledger, `ledger:fills` or a JSONL file), exact to the cent and the share (src/recon). Every
// run is persisted (`recon:statements:<date>`, the snapshot store), audited with its inputs' SHA-256, and a mismatch
// or a could-not-reconcile is a critical alert with the recon SOP. An examiner re-running a past day with the same
// inputs gets the same answer: the comparison is a pure function of the inputs.
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { AlpacaBroker } from "../brokers/alpaca.js";
import { fetchAlpacaStatement } from "../brokers/alpaca-statement.js";
import { UsageError } from "../errors.js";
import { lastClosedTradingDay } from "../market/calendar.js";
import { Reconciler, topMismatches } from "../recon/compare.js";
import { formatFixed } from "../recon/fixed.js";
import { LEDGER_STREAM, readLedgerFile, readLedgerStream } from "../recon/ledger.js";
import { readAlpacaStatement } from "../recon/statement-alpaca.js";
import { readCsvStatement } from "../recon/statement-csv.js";
import { isCalendarDate } from "../recon/trade-date.js";
import type { InputError, LedgerFill, ReconResult, Statement } from "../recon/types.js";
import { audit, type OpsDeps } from "./deps.js";
import { authorize } from "./roles.js";
import { writeSnapshot } from "./snapshot.js";
import { message } from "./within.js";

export const SOP_RECON = "sop-recon";

export interface ReconInput {
  actor: string;
  date: string;
  /** Restricts the ledger to this broker's fills and, without `statement`, fetches its statement live. */
  broker?: string;
  /** Saved statement files: Alpaca's activities JSON (+ positions JSON), or a generic CSV (by extension). */
  statement?: { file: string; positions?: string };
  /** A JSONL ledger instead of the Redis stream. */
  ledger?: string;
  /** Called as the run progresses (a progress bar on a terminal). */
  onProgress?: (p: { phase: "ledger" | "statement" | "compare"; rows: number }) => void;
}

/** One run's outcome: the contract's result object (plus which broker), where it went, and its alert. */
export interface ReconRun {
  result: ReconResult & { broker: string | null };
  saved: string | null;
}

/** The summary /status and App Home show. */
export interface ReconSummary {
  date: string;
  broker: string | null;
  ok: boolean;
  mismatches: number;
  errors: number;
  at: string;
}

/** The recon operation (role `panic`: whoever may halt may check the day). */
export class ReconOperation {
  constructor(private readonly deps: OpsDeps) {}

  /** The brokers whose statement can be fetched live (Alpaca). */
  statementBrokers(): string[] {
    return this.deps.brokers.filter((b) => b instanceof AlpacaBroker).map((b) => b.name);
  }

  /** The trade date a run without a date covers: the last NYSE trading day that has closed. */
  defaultDate(): string {
    return lastClosedTradingDay(this.deps.now());
  }

  /** Reconciles one date (one broker, or every ledger fill against one statement file). */
  async run(input: ReconInput): Promise<ReconRun> {
    const d = this.deps;
    await authorize(d, input.actor, "panic", "recon");
    if (!isCalendarDate(input.date))
      throw new UsageError(`--date: not a calendar date YYYY-MM-DD (${JSON.stringify(input.date)})`);
    if (input.broker && !d.config.brokers.some((b) => b.name === input.broker))
      throw new UsageError(`--broker: no broker named ${input.broker} is configured`);
    if (!input.statement && !input.broker)
      throw new UsageError("say where the statement comes from: --broker NAME (fetched live) or --statement FILE");
    for (const f of [input.ledger, input.statement?.file, input.statement?.positions])
      if (f && !existsSync(f)) throw new UsageError(`${f}: no such file`);
    const recon = new Reconciler({ date: input.date, broker: input.broker ?? null });
    const inputs: { source: string; sha256: string }[] = [];

    // The statement first: a missing file is a usage error before the ledger is read.
    input.onProgress?.({ phase: "statement", rows: 0 });
    const { statement, source } = await this.statement(input, recon);
    inputs.push({ source, sha256: statement.sha256 });
    recon.addStatement(statement.statement);
    input.onProgress?.({ phase: "statement", rows: statement.statement.rows });

    // The ledger, streamed; its hash covers exactly what was read.
    const ledgerHash = createHash("sha256");
    let rows = 0;
    const items = input.ledger ? readLedgerFile(input.ledger) : readLedgerStream(d.redis, d.keys.raw(LEDGER_STREAM));
    for await (const item of items) {
      recon.addLedger(item);
      ledgerHash.update(canonicalLedgerItem(item));
      if (++rows % 10_000 === 0) input.onProgress?.({ phase: "ledger", rows });
    }
    input.onProgress?.({ phase: "ledger", rows });
    inputs.push({ source: input.ledger ?? `redis:${LEDGER_STREAM}`, sha256: ledgerHash.digest("hex") });

    input.onProgress?.({ phase: "compare", rows });
    const result = { ...recon.result(), broker: input.broker ?? null };
    const saved = await this.persist(result, inputs, input.actor);
    return { result, saved };
  }

  /** The last runs (newest first), for /status. */
  async last(): Promise<ReconSummary[]> {
    const raw = await this.deps.redis.lrange(this.deps.keys.reconLast, 0, 9).catch(() => []);
    return raw.flatMap((r) => {
      try {
        return [JSON.parse(r) as ReconSummary];
      } catch {
        return [];
      }
    });
  }

  /**
   * The statement. Saved files are streamed: their fills, fees (and CSV positions) go straight into `recon` as they
   * are read, so a run's memory does not grow with the statement; what is returned holds the rest (rows, errors,
   * cash, Alpaca positions), for `recon.addStatement`.
   */
  private async statement(
    input: ReconInput,
    recon: Reconciler,
  ): Promise<{ statement: { statement: Statement; sha256: string }; source: string }> {
    if (input.statement) {
      const { file, positions } = input.statement;
      const sha256 = await hashFiles([file, ...(positions ? [positions] : [])]);
      const statement = /\.csv$/i.test(file)
        ? await readCsvStatement(file, { date: input.date, sink: recon })
        : await readAlpacaStatement({ activities: file, positions }, { date: input.date, sink: recon });
      return { statement: { statement, sha256 }, source: positions ? `${file} + ${positions}` : file };
    }
    const broker = this.deps.brokers.find((b) => b.name === input.broker);
    if (!(broker instanceof AlpacaBroker))
      throw new UsageError(
        `--broker ${input.broker}: its statement cannot be fetched live (only kind: alpaca); pass --statement FILE`,
      );
    const statement = await fetchAlpacaStatement(broker, input.date, {
      now: this.deps.now().getTime(),
      onPage: (p) => input.onProgress?.({ phase: "statement", rows: p.activities }),
    });
    return { statement: { statement, sha256: hashStatement(statement) }, source: `${broker.name} (live)` };
  }

  /** Saves the result (Redis, the snapshot store), audits the run, and raises or resolves its alert. */
  private async persist(
    result: ReconResult & { broker: string | null },
    inputs: { source: string; sha256: string }[],
    actor: string,
  ): Promise<string | null> {
    const d = this.deps;
    const now = d.now();
    const json = JSON.stringify(result);
    const summary: ReconSummary = {
      date: result.date,
      broker: result.broker,
      ok: result.ok,
      mismatches: result.mismatches.length,
      errors: result.errors.length,
      at: now.toISOString(),
    };
    await d.redis
      .multi()
      .set(d.keys.reconStatements(result.date), json)
      .lpush(d.keys.reconLast, JSON.stringify(summary))
      .ltrim(d.keys.reconLast, 0, 49)
      .exec()
      .catch((err) => d.log.error({ err }, "recon: could not record the result in Redis"));
    let saved: string | null = null;
    try {
      saved = await writeSnapshot(
        d.config,
        `recon-${result.date}-${result.broker ?? "all"}-${now.toISOString().replace(/[:.]/g, "-")}.json`,
        result,
        "statements",
      );
    } catch (err) {
      d.log.error({ err }, "recon: could not save the result to the snapshot store");
    }
    await audit(d, {
      actor,
      action: "recon.run",
      details: {
        date: result.date,
        broker: result.broker,
        inputs,
        ok: result.ok,
        rows: result.rows,
        mismatches: result.mismatches.length,
        errors: result.errors.length,
        saved,
      },
    }).catch((err) => d.log.error({ err }, "recon: could not audit the run"));
    const key = `recon:${result.broker ?? "all"}:${result.date}`;
    if (result.ok) await d.alerts.resolve("recon", key, now).catch((err) => d.log.warn({ err }, "recon: alert"));
    else
      await d.alerts
        .raise("recon", reconFinding(key, result), now)
        .catch((err) => d.log.error({ err }, "recon: could not raise the alert"));
    return saved;
  }
}

/** The alert of a failed recon: what failed and the top differences. */
function reconFinding(key: string, r: ReconResult & { broker: string | null }) {
  const top = topMismatches(r, 5).map(
    (m) =>
      `${m.kind} ${m.symbol ?? ""}${m.order_id ? ` order ${m.order_id}` : ""}: ours ${m.ours ?? "—"}, theirs ${m.theirs ?? "—"}${m.diff ? ` (diff ${m.diff})` : ""}`,
  );
  const errs = r.errors.slice(0, 3).map((e) => `${e.where}: ${e.reason}`);
  const couldNot = r.errors.length > 0;
  return {
    guard: "recon",
    key,
    severity: "critical" as const,
    title: `Recon ${r.date}${r.broker ? ` ${r.broker}` : ""}: ${couldNot ? "could not reconcile" : `${r.mismatches.length} mismatch(es)`}`,
    detail: [
      couldNot
        ? `${r.errors.length} input row(s) could not be read:`
        : `${r.mismatches.length} difference(s), largest first:`,
      ...(couldNot ? errs : top),
      ...(couldNot && top.length ? ["Differences:", ...top] : []),
    ].join("\n"),
    sop: SOP_RECON,
    value: String(r.mismatches.length),
  };
}

/** SHA-256 of the files' bytes, in order. */
async function hashFiles(files: string[]): Promise<string> {
  const h = createHash("sha256");
  for (const f of files) {
    try {
      for await (const chunk of createReadStream(f)) h.update(chunk as Buffer);
    } catch (err) {
      throw new UsageError(`${f}: cannot read it (${message(err)})`);
    }
  }
  return h.digest("hex");
}

/** One ledger item as hashed: its fields in the contract's order (or the error), one line. */
function canonicalLedgerItem(item: LedgerFill | InputError): string {
  if ("reason" in item) return `error\t${item.where}\t${item.reason}\n`;
  return `${[item.fillId, item.orderId, item.broker, item.symbol, item.side, formatFixed(item.qty), formatFixed(item.price), formatFixed(item.fee), item.ts].join("\t")}\n`;
}

/** SHA-256 of a live statement's content, canonical (what was compared, in a fixed order). */
function hashStatement(s: Statement): string {
  const h = createHash("sha256");
  for (const f of s.fills)
    h.update(`fill\t${f.orderId}\t${f.symbol}\t${f.side}\t${formatFixed(f.qty)}\t${formatFixed(f.price)}\t${f.ts}\n`);
  for (const f of s.fees) h.update(`fee\t${f.symbol ?? ""}\t${formatFixed(f.amount)}\t${f.tradeDate}\n`);
  for (const p of s.positions ?? []) h.update(`position\t${p.symbol}\t${formatFixed(p.qty)}\n`);
  return h.digest("hex");
}
