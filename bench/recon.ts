// P8 recon (issue #11): a 1,000,000-fill JSONL ledger (100,000 fills of the day before, the opening lots, and 900,000
// of the date in ~225,000 orders over 500 symbols) against its generic CSV statement (the date's fills, fees per
// symbol, end-of-day positions, opening and closing cash), streamed through the real recon path — readLedgerFile,
// the CSV parser with the Reconciler as its sink, the Reconciler — as `tradeguard recon` feeds it. Fills/s and peak
// RSS (VmHWM), each pass in a fresh `node` over the benchmark build (bench/.cache/build, as P7) so the RSS is the
// run's own.
// Baseline, same run: merely parsing the same files with the same readers (their items counted, nothing kept).
// Targets: ≥ 50 % of the parse-only rate, peak RSS ≤ 300 MB. Also shown (report only): the whole operation
// (ReconOperation.run: hashing, persisting, audit) and raw JSON.parse + csv-parse without validation.
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CSV_COLUMNS } from "../src/recon/statement-csv.js";
import { ensureBuild } from "./bot-start.js";
import {
  type Benchmark,
  builtEnv,
  cacheDir,
  fmtInt,
  fmtRate,
  fmtSec,
  type Row,
  ratioOf,
  say,
  targetRow,
  withRedis,
} from "./lib.js";

const FILLS = 1_000_000;
const OPENING = 100_000;
const SYMBOLS = 500;
const DATE = "2026-12-01";
const TARGET_SHARE = 0.5;
const TARGET_RSS_MB = 300;
const FIXTURE_VERSION = 1;

/** A deterministic pseudo-random sequence (LCG). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const money = (units: bigint, decimals: number) => {
  const neg = units < 0n;
  const a = (neg ? -units : units).toString().padStart(decimals + 1, "0");
  return `${neg ? "-" : ""}${a.slice(0, -decimals)}.${a.slice(-decimals)}`;
};

/** The ledger and its statement, generated once (cached in bench/.cache/recon-<fills>/). */
function ensureFixture(): { ledger: string; statement: string } {
  const dir = join(cacheDir(), `recon-${FILLS}-v${FIXTURE_VERSION}`);
  const ledger = join(dir, "ledger.jsonl");
  const statement = join(dir, "statement.csv");
  if (existsSync(ledger) && existsSync(statement)) return { ledger, statement };
  say(`fixture: generating ${fmtInt(FILLS)} ledger fills and their statement into ${dir} (once)…`);
  mkdirSync(dir, { recursive: true });
  const rand = lcg(11);
  const lf = openSync(`${ledger}.tmp`, "w");
  const sf = openSync(`${statement}.tmp`, "w");
  let lbuf: string[] = [];
  let sbuf: string[] = [];
  const flush = (force = false) => {
    if (force || lbuf.length >= 20_000) {
      writeSync(lf, lbuf.join(""));
      lbuf = [];
    }
    if (force || sbuf.length >= 20_000) {
      writeSync(sf, sbuf.join(""));
      sbuf = [];
    }
  };
  // Positions in tenths of a share, fees in cents, trade cash in thousandths (tenths × cents), per symbol.
  const pos = new Array<bigint>(SYMBOLS).fill(0n);
  const fees = new Array<bigint>(SYMBOLS).fill(0n);
  let tradeCash = 0n;
  sbuf.push(`${CSV_COLUMNS.join(",")}\n`, `opening_cash,${DATE},,,,,,,1000000.00,\n`);
  let n = 0;
  let order = 0;
  while (n < FILLS) {
    const onDate = n >= OPENING;
    const sym = rand(SYMBOLS);
    const symbol = `S${String(sym).padStart(3, "0")}`;
    const p = pos[sym]!;
    const buy = p < -2000n ? true : p > 2000n ? false : rand(2) === 0;
    const side = buy ? "buy" : p > 0n ? "sell" : "sell_short";
    const parts = 1 + rand(7);
    const cents = BigInt(5_000 + rand(20_000));
    order++;
    for (let k = 0; k < parts && n < FILLS; k++, n++) {
      const tenths = BigInt(10 * (1 + rand(100)) + (rand(7) === 0 ? 5 : 0));
      const fee = BigInt(rand(36));
      const day = onDate ? DATE : "2026-11-30";
      const i = onDate ? n - OPENING : n;
      const ms = Date.parse(`${day}T14:30:00Z`) + Math.floor((i * 23_400_000) / (onDate ? FILLS - OPENING : OPENING));
      const ts = new Date(ms).toISOString();
      const [qty, price, feeText] = [money(tenths, 1), money(cents, 2), money(fee, 2)];
      lbuf.push(
        `${JSON.stringify({ fill_id: `f${n}`, order_id: `o${order}`, broker: "sim", symbol, side, qty, price, fee: feeText, ts })}\n`,
      );
      pos[sym] = pos[sym]! + (buy ? tenths : -tenths);
      if (onDate) {
        sbuf.push(`fill,${DATE},${ts},o${order},${symbol},${side},${qty},${price},,\n`);
        fees[sym] = fees[sym]! + fee;
        tradeCash += (buy ? -tenths * cents : tenths * cents) - fee * 10n;
      }
      flush();
    }
  }
  for (let s = 0; s < SYMBOLS; s++) {
    const symbol = `S${String(s).padStart(3, "0")}`;
    if (fees[s]! > 0n) sbuf.push(`fee,${DATE},,,${symbol},,,,${money(fees[s]!, 2)},commission\n`);
    if (pos[s]! !== 0n) sbuf.push(`position,${DATE},,,${symbol},,${money(pos[s]!, 1)},,,\n`);
  }
  sbuf.push(`closing_cash,${DATE},,,,,,,${money(1_000_000_000n + tradeCash, 3)},\n`);
  flush(true);
  closeSync(lf);
  closeSync(sf);
  renameSync(`${ledger}.tmp`, ledger);
  renameSync(`${statement}.tmp`, statement);
  return { ledger, statement };
}

/** One pass in a fresh node over the build: `{ ms, items, rssMb, ok, mismatches, errors }`. */
function pass(
  build: string,
  mode: "parse" | "recon" | "op" | "raw",
  files: { ledger: string; statement: string },
  env: Record<string, string> = {},
) {
  const dist = (p: string) => JSON.stringify(pathToFileURL(join(build, "dist", p)).href);
  const code = `
const [{ readLedgerFile }, { readCsvStatement }, { Reconciler }] = await Promise.all([
  import(${dist("recon/ledger.js")}), import(${dist("recon/statement-csv.js")}), import(${dist("recon/compare.js")}),
]);
const [ledger, statement, date, mode] = process.argv.slice(1);
const t0 = performance.now();
let items = 0, out = {};
if (mode === "parse") {
  const sink = { addStatementFill() { items++; }, addStatementFee() {}, addStatementPositions() {} };
  await readCsvStatement(statement, { date, sink });
  for await (const _ of readLedgerFile(ledger)) items++;
} else if (mode === "recon") {
  const recon = new Reconciler({ date });
  recon.addStatement(await readCsvStatement(statement, { date, sink: recon }));
  for await (const item of readLedgerFile(ledger)) { recon.addLedger(item); items++; }
  const r = recon.result();
  out = { ok: r.ok, mismatches: r.mismatches.length, errors: r.errors.length, rows: r.rows };
} else if (mode === "op") {
  const { createRuntime, loadAppConfig } = await import(${dist("main.js")});
  const { silentLog } = { silentLog: (await import("pino")).default({ level: "silent" }) };
  const rt = await createRuntime(loadAppConfig(process.env), { log: silentLog });
  const run = await rt.ops.recon.run({ actor: "bench", date, statement: { file: statement }, ledger });
  items = run.result.rows;
  out = { ok: run.result.ok, mismatches: run.result.mismatches.length, errors: run.result.errors.length };
  await rt.close();
} else {
  const { createReadStream } = await import("node:fs");
  const { createInterface } = await import("node:readline");
  const { parse } = await import("csv-parse");
  for await (const r of createReadStream(statement).pipe(parse({ relax_column_count: true }))) if (r[0] === "fill") items++;
  for await (const l of createInterface({ input: createReadStream(ledger, "utf8"), crlfDelay: Infinity })) { JSON.parse(l); items++; }
}
const ms = performance.now() - t0;
// VmHWM, not resourceUsage().maxRSS: on Linux the latter starts from the parent's size at fork.
const hwm = /VmHWM:\\s+(\\d+) kB/.exec((await import("node:fs")).readFileSync("/proc/self/status", "utf8"));
process.stdout.write(JSON.stringify({ ms, items, rssMb: Number(hwm?.[1]) / 1024, ...out }));
`;
  const stdout = execFileSync(
    process.execPath,
    ["--input-type=module", "-e", code, files.ledger, files.statement, DATE, mode],
    {
      cwd: build,
      env: builtEnv(env),
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(stdout.toString()) as {
    ms: number;
    items: number;
    rssMb: number;
    ok?: boolean;
    mismatches?: number;
    errors?: number;
  };
}

export const reconBench: Benchmark = {
  id: "P8",
  name: "recon",
  description: `${fmtInt(FILLS)}-fill ledger vs its CSV statement through the streaming recon path: fills/s and peak RSS vs parse-only`,
  async run(): Promise<Row[]> {
    const build = ensureBuild();
    const files = ensureFixture();
    const parse = pass(build, "parse", files);
    const recon = pass(build, "recon", files);
    const raw = pass(build, "raw", files);
    const rate = (r: { ms: number }) => FILLS / (r.ms / 1000);
    say(
      `parse only (readLedgerFile + the CSV parser, nothing kept): ${fmtSec(parse.ms)} → ${fmtRate(rate(parse), "fills")}, peak RSS ${parse.rssMb.toFixed(0)} MB`,
    );
    say(
      `recon (statement streamed into the Reconciler, then the ledger): ${fmtSec(recon.ms)} → ${fmtRate(rate(recon), "fills")}, peak RSS ${recon.rssMb.toFixed(0)} MB; ok=${recon.ok}, ${recon.mismatches} mismatches, ${recon.errors} errors`,
    );
    say(
      `raw JSON.parse + csv-parse, no validation: ${fmtSec(raw.ms)} → ${fmtRate(rate(raw), "fills")}, peak RSS ${raw.rssMb.toFixed(0)} MB`,
    );
    if (!recon.ok)
      throw new Error(`the fixture did not reconcile (${recon.mismatches} mismatches, ${recon.errors} errors)`);
    const op = await withRedis(async (srv) => {
      const home = join(cacheDir(), "recon-op-home");
      mkdirSync(home, { recursive: true });
      return pass(build, "op", files, {
        TRADEGUARD_HOME: home,
        REDIS_URL: srv.url,
        REDIS_PREFIX: "bench:recon:",
        LOG_LEVEL: "silent",
      });
    });
    say(
      `whole operation (ReconOperation.run: inputs hashed, result persisted and audited): ${fmtSec(op.ms)} → ${fmtRate(rate(op), "fills")}, peak RSS ${op.rssMb.toFixed(0)} MB; ok=${op.ok}`,
    );
    return [
      targetRow({
        id: "P8",
        bench: "recon",
        metric: `${fmtInt(FILLS)} fills vs statement, streamed: rate`,
        measured: fmtRate(rate(recon), "fills"),
        baseline: `parse only ${fmtRate(rate(parse), "fills")}`,
        ratio: ratioOf(rate(recon), rate(parse)),
        target: `≥ ${TARGET_SHARE * 100} %`,
        pass: rate(recon) >= TARGET_SHARE * rate(parse),
      }),
      targetRow({
        id: "P8",
        bench: "recon",
        metric: `${fmtInt(FILLS)} fills vs statement, streamed: peak RSS`,
        measured: `${recon.rssMb.toFixed(0)} MB`,
        baseline: `parse only ${parse.rssMb.toFixed(0)} MB`,
        ratio: ratioOf(recon.rssMb, parse.rssMb),
        target: `≤ ${TARGET_RSS_MB} MB`,
        pass: recon.rssMb <= TARGET_RSS_MB,
      }),
      {
        id: "",
        bench: "recon",
        metric: "tradeguard recon (ReconOperation.run): rate, peak RSS",
        measured: `${fmtRate(rate(op), "fills")}, ${op.rssMb.toFixed(0)} MB`,
        baseline: `parse only ${fmtRate(rate(parse), "fills")}`,
        ratio: ratioOf(rate(op), rate(parse)),
        target: "- (report only)",
        verdict: "INFO",
      },
    ];
  },
};
