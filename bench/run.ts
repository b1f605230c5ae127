// Runs the desk's performance targets (issue #17: P1…P8) in sequence — all, or those named on the command line by id
// or name (`npm run bench -- P5 P4`) — and prints a summary table whose verdicts are those targets and no others:
// every target is a ratio against a baseline measured in the same run, printed with both figures. `--json` prints
// the table as one JSON object on stdout (progress goes to stderr). A report, not a test: the exit code is 0
// whatever the results (2 for an unknown name). Report-only benchmarks (no target) run only when named.
import { availableParallelism } from "node:os";
import { auditAppend } from "./audit-append.js";
import { auditVerify } from "./audit-verify.js";
import { botStart } from "./bot-start.js";
import { flatten } from "./flatten.js";
import { gateBench, gateFanout } from "./gate.js";
import { guardTick } from "./guard-tick.js";
import { type Benchmark, fmtSec, log, progressToStderr, type Row, stopAllRedis, table } from "./lib.js";
import { modePubsub } from "./mode-pubsub.js";
import { panicConfirm } from "./panic-confirm.js";
import { reconBench } from "./recon.js";
import { reportCharts } from "./report-charts.js";
import { slashAck } from "./slash-ack.js";

const targets: Benchmark[] = [panicConfirm, slashAck, flatten, auditVerify, guardTick, gateBench, botStart, reconBench];
const extras: Benchmark[] = [auditAppend, modePubsub, gateFanout, reportCharts];
const all = [...targets, ...extras];

function usage(): string {
  const line = (b: Benchmark) => `  ${(b.id || "-").padEnd(3)} ${b.name.padEnd(14)} ${b.description}`;
  return [
    "usage: npm run bench [-- [--json] <id or name>...]",
    "targets (issue #17), run by default:",
    ...targets.map(line),
    "report only, run when named:",
    ...extras.map(line),
  ].join("\n");
}

const matches = (b: Benchmark, arg: string) =>
  b.name === arg || (b.id !== "" && b.id.toLowerCase() === arg.toLowerCase());

async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => a !== "--");
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const json = args.includes("--json");
  if (json) progressToStderr();
  const names = args.filter((a) => a !== "--json");
  const unknown = names.filter((n) => !all.some((b) => matches(b, n)));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark: ${unknown.join(", ")}\n${usage()}\n`);
    return 2;
  }
  const selected = names.length > 0 ? all.filter((b) => names.some((n) => matches(b, n))) : targets;
  log(
    `tradeguard benchmarks: ${selected.map((b) => b.id || b.name).join(", ")} (node ${process.version}, ${availableParallelism()} cpus)\n`,
  );

  const rows: Row[] = [];
  const started = performance.now();
  for (const b of selected) {
    log(`\n== ${b.id ? `${b.id} ` : ""}${b.name}: ${b.description}\n`);
    const t0 = performance.now();
    try {
      rows.push(...(await b.run()));
    } catch (err) {
      log(`  ERROR: ${(err as Error).stack ?? String(err)}\n`);
      rows.push({
        id: b.id,
        bench: b.name,
        metric: "benchmark crashed",
        measured: String((err as Error).message ?? err).slice(0, 120),
        baseline: "-",
        ratio: null,
        target: "-",
        verdict: "ERROR",
      });
    }
    log(`  (${b.name} took ${fmtSec(performance.now() - t0)})\n`);
  }

  const count = (v: Row["verdict"]) => rows.filter((r) => r.verdict === v).length;
  log(`\n== summary (total ${fmtSec(performance.now() - started)})\n${table(rows)}\n`);
  log(`${count("PASS")} PASS, ${count("FAIL")} FAIL, ${count("ERROR")} ERROR, ${count("INFO")} INFO\n`);
  if (json) {
    const out = { node: process.version, cpus: availableParallelism(), rows };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
  return 0;
}

process.once("SIGINT", () => {
  void stopAllRedis().finally(() => process.exit(130));
});

const code = await main(process.argv.slice(2));
await stopAllRedis();
process.exit(code);
