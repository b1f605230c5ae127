// Runs the benchmarks in sequence (all, or those named on the command line: `npm run bench -- audit-verify flatten`)
// and prints a summary table. A report, not a test: the exit code is 0 whatever the results (2 for an unknown name).
import { auditAppend } from "./audit-append.js";
import { auditVerify } from "./audit-verify.js";
import { flatten } from "./flatten.js";
import { gateBench } from "./gate.js";
import { guardTick } from "./guard-tick.js";
import { type Benchmark, fmtSec, type Row, stopAllRedis, table } from "./lib.js";
import { modePubsub } from "./mode-pubsub.js";
import { panicConfirm } from "./panic-confirm.js";

const all: Benchmark[] = [auditAppend, auditVerify, modePubsub, panicConfirm, flatten, guardTick, gateBench];

function usage(): string {
  return `usage: npm run bench [-- <name>...]\nbenchmarks:\n${all.map((b) => `  ${b.name.padEnd(14)} ${b.description}`).join("\n")}`;
}

async function main(argv: string[]): Promise<number> {
  const names = argv.filter((a) => a !== "--");
  if (names.includes("-h") || names.includes("--help")) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const unknown = names.filter((n) => !all.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark: ${unknown.join(", ")}\n${usage()}\n`);
    return 2;
  }
  const selected = names.length > 0 ? all.filter((b) => names.includes(b.name)) : all;
  process.stdout.write(`tradeguard benchmarks: ${selected.map((b) => b.name).join(", ")} (node ${process.version})\n`);

  const rows: Row[] = [];
  const started = performance.now();
  for (const b of selected) {
    process.stdout.write(`\n== ${b.name}: ${b.description}\n`);
    const t0 = performance.now();
    try {
      rows.push(...(await b.run()));
    } catch (err) {
      process.stdout.write(`  ERROR: ${(err as Error).stack ?? String(err)}\n`);
      rows.push({
        bench: b.name,
        metric: "benchmark crashed",
        value: String((err as Error).message ?? err),
        baseline: "-",
        ratio: "-",
        target: "-",
        verdict: "ERROR",
      });
    }
    process.stdout.write(`  (${b.name} took ${fmtSec(performance.now() - t0)})\n`);
  }

  process.stdout.write(`\n== summary (total ${fmtSec(performance.now() - started)})\n${table(rows)}\n`);
  const failed = rows.filter((r) => r.verdict === "FAIL" || r.verdict === "ERROR").length;
  process.stdout.write(
    `${rows.filter((r) => r.verdict === "PASS").length} PASS, ${failed} FAIL/ERROR, ${rows.filter((r) => r.verdict === "INFO").length} INFO\n`,
  );
  return 0;
}

process.once("SIGINT", () => {
  void stopAllRedis().finally(() => process.exit(130));
});

const code = await main(process.argv.slice(2));
await stopAllRedis();
process.exit(code);
