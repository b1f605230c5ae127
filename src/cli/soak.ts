// tradeguard soak — the broker's cheap authenticated read at a fixed rate for a while, then a latency report
// (p50/p90/p99/max, errors) per endpoint. A progress bar on stderr when it is a terminal; with --json, stdout carries
// only the report object. Ctrl-C ends the soak early and still prints what was measured.
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { MAX_SOAK_MS, type SoakReport } from "../ops/soak.js";
import { CliExit, EXIT, printJson, withRuntime } from "./context.js";

/** The soak's duration from --minutes or --seconds (exactly one), in ms. */
export function soakDuration(opts: { minutes?: string; seconds?: string }): number {
  if ((opts.minutes === undefined) === (opts.seconds === undefined))
    throw new UsageError("give the soak's length: --minutes N or --seconds N (one of them)");
  const raw = opts.minutes ?? opts.seconds!;
  const n = Number(raw);
  const ms = n * (opts.minutes !== undefined ? 60_000 : 1_000);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(ms) || ms < 1_000 || ms > MAX_SOAK_MS)
    throw new UsageError(`--${opts.minutes !== undefined ? "minutes" : "seconds"} ${raw}: from 1 second to 24 hours`);
  return Math.round(ms);
}

const fmt = (v: number) => `${v} ms`.padStart(10);

/** The human report. */
export function soakText(r: SoakReport): string {
  const lines = [
    `soak ${r.broker} (${r.kind}): ${Math.round(r.duration_ms / 100) / 10} s, one read every ${r.interval_ms} ms${r.interrupted ? " (interrupted)" : ""}`,
  ];
  if (r.active_note) lines.push(`  note: ${r.active_note}`);
  lines.push(
    `  ${"endpoint".padEnd(44)} ${"calls".padStart(6)} ${"errors".padStart(6)} ${"p50".padStart(10)} ${"p90".padStart(10)} ${"p99".padStart(10)} ${"max".padStart(10)}`,
  );
  for (const e of r.endpoints) {
    const name = `${e.active ? "* " : "  "}${e.url ?? "(ccxt default)"}`;
    const l = e.latency_ms;
    lines.push(
      `  ${name.padEnd(44)} ${String(e.calls).padStart(6)} ${String(e.errors).padStart(6)} ${l ? `${fmt(l.p50)} ${fmt(l.p90)} ${fmt(l.p99)} ${fmt(l.max)}` : "no successful read".padStart(43)}`,
    );
    for (const x of e.error_examples) lines.push(`      ${x.count}× ${x.error}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Registers soak. */
export function registerSoak(program: Command): void {
  program
    .command("soak")
    .description("time the broker's cheap authenticated read for a while and print p50/p90/p99/max and errors")
    .requiredOption("--broker <name>", "the configured broker")
    .option("--minutes <n>", "how long")
    .option("--seconds <n>", "how long, in seconds (drills, tests)")
    .option("--interval-ms <ms>", "time between two reads of one endpoint", "1000")
    .option("--each", "soak every configured endpoint in parallel, not only the active one")
    .option("--json", "print only the report object on stdout")
    .addHelpText(
      "after",
      "\nExit codes: 0 every read succeeded, 1 some reads failed (the report says which), 2 usage.\nExamples:\n  tradeguard soak --broker alpaca-live --minutes 10\n  tradeguard soak --broker alpaca-live --seconds 30 --each --json\n",
    )
    .action(
      async (opts: {
        broker: string;
        minutes?: string;
        seconds?: string;
        intervalMs: string;
        each?: boolean;
        json?: boolean;
      }) => {
        const durationMs = soakDuration(opts);
        const intervalMs = Number(opts.intervalMs);
        if (!/^\d+$/.test(opts.intervalMs))
          throw new UsageError(`--interval-ms ${opts.intervalMs}: whole milliseconds`);
        const ctrl = new AbortController();
        const stop = () => ctrl.abort();
        process.once("SIGINT", stop);
        const bar = process.stderr.isTTY
          ? new cliProgress.SingleBar(
              {
                stream: process.stderr,
                format: `soak ${opts.broker} [{bar}] {percentage}% | {value}/{total} reads | {errors} errors | ETA {eta_formatted}`,
                hideCursor: true,
                clearOnComplete: true,
              },
              cliProgress.Presets.shades_classic,
            )
          : null;
        try {
          const report = await withRuntime(async (rt) => {
            let started = false;
            return rt.ops.soak({
              broker: opts.broker,
              durationMs,
              intervalMs,
              each: opts.each,
              signal: ctrl.signal,
              onProgress: bar
                ? (p) => {
                    if (!started) bar.start(p.total, 0, { errors: 0 });
                    started = true;
                    bar.update(p.done, { errors: p.errors });
                  }
                : undefined,
            });
          });
          bar?.stop();
          if (opts.json) printJson(report);
          else process.stdout.write(soakText(report));
          if (report.endpoints.some((e) => e.errors > 0)) throw new CliExit(EXIT.failed);
        } finally {
          bar?.stop();
          process.removeListener("SIGINT", stop);
        }
      },
    );
}
