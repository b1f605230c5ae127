// tradeguard report weekly|monthly — the weekly health and the monthly cost and strategy-risk reports (the same code
// as the scheduled job): printed as Markdown or JSON, written with their chart PNGs to a directory, or published
// (saved in the snapshot store and posted to the alert channel with the charts).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Argument, type Command } from "commander";
import { createFileUploader } from "../bot/files.js";
import { cliActor } from "../config.js";
import { UsageError } from "../errors.js";
import { isReportKind, lastPeriod, periodSince } from "../reports/period.js";
import { produceReport, publishReport, reportFiles } from "../reports/publish.js";
import type { Runtime } from "../runtime.js";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";

interface ReportOpts {
  since?: string;
  out?: string;
  json?: boolean;
  publish?: boolean;
}

/** What a report reads, from the CLI's runtime. */
export function reportSources(rt: Runtime) {
  return {
    redis: rt.redis,
    keys: rt.keys,
    config: rt.config,
    now: rt.now,
    keyAges: () => rt.ops.secrets.list(),
    budgets: rt.budgets,
  };
}

/** Registers report. */
export function registerReport(program: Command): void {
  program
    .command("report")
    .addArgument(new Argument("<kind>", "weekly or monthly").choices(["weekly", "monthly"]))
    .description("the weekly health report or the monthly cost and strategy-risk report, with charts")
    .option("--since <YYYY-MM-DD>", "the period starts that day (New York); default: the last complete week/month")
    .option("--out <dir>", "write <id>.md, <id>.json and the chart PNGs to this directory")
    .option("--json", "print the report object instead of Markdown")
    .option("--publish", "also save it in the snapshot store and post it to the alert channel, as the schedule does")
    .addHelpText(
      "after",
      "\nKinds: weekly (guards fired, alerts and time to acknowledge, halts, recon, key ages, error budget) and monthly\n(costs against budget with forecast, P&L per strategy, slippage, caps hit). A weekly --since may be any day (7 days\nfrom it); a monthly --since is the 1st of a month. Times are America/New_York.\nExit codes: 0 written, 1 something could not be read (listed under problems) or the post failed, 2 usage, 3 Redis unreachable.\nExamples:\n  tradeguard report weekly --out ./reports\n  tradeguard report monthly --since 2026-11-01 --json\n",
    )
    .action(async (kind: string, opts: ReportOpts) => {
      if (!isReportKind(kind))
        throw new UsageError(`report: the kind is weekly or monthly, not ${JSON.stringify(kind)}`);
      await withRuntime(async (rt) => {
        await requireRedis(rt, "report");
        const now = rt.now();
        const period = opts.since ? periodSince(kind, opts.since, now) : lastPeriod(kind, now);
        const drawn = Boolean(opts.out || opts.publish);
        const produced = await produceReport(reportSources(rt), kind, period, { draw: drawn });
        if (drawn)
          process.stderr.write(
            `tradeguard: drew ${produced.render.charts.length} chart(s) in ${produced.render.renderMs} ms${produced.render.omitted.length ? `; no data for ${produced.render.omitted.map((o) => o.id).join(", ")}` : ""}\n`,
          );
        if (opts.out) {
          const dir = resolve(opts.out);
          mkdirSync(dir, { recursive: true });
          for (const f of reportFiles(produced)) {
            writeFileSync(join(dir, f.name), f.body);
            if (!opts.json) process.stdout.write(`${join(dir, f.name)}\n`);
          }
        }
        let postFailed = false;
        if (opts.publish) {
          const published = await publishReport(
            {
              ...reportSources(rt),
              audit: rt.audit,
              metrics: rt.metrics,
              notifier: rt.notifier,
              log: rt.log,
              uploader: createFileUploader(rt.config, rt.log),
            },
            produced,
            cliActor(),
          );
          postFailed = published.postError !== null;
          process.stderr.write(
            `tradeguard: saved ${published.saved.length} file(s) under ${published.saved[0]?.replace(/[^/]+$/, "")}; ${published.posted ? `posted to ${published.posted.channel} with ${published.posted.fileIds.length} chart(s)` : postFailed ? `the charts could not be posted (${published.postError}); the text was` : "announced on the console (no Slack bot token / alert channel)"}\n`,
          );
        }
        if (opts.json) printJson(produced.json);
        else if (!opts.out) process.stdout.write(produced.markdown);
        for (const p of produced.report.problems) process.stderr.write(`tradeguard: ${p}\n`);
        if (produced.report.problems.length || postFailed) throw new CliExit(EXIT.failed);
      });
    });
}
