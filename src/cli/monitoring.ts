// tradeguard monitoring rules | dashboard | catalog — the Prometheus rules and the Grafana dashboard rendered with this
// desk's config (runbook_url, the monitoring: section), and the metric catalog they are checked against. The
// checked-in monitoring/ files are the same rendering with the documented defaults (npm run gen:monitoring).
import { renameSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { METRICS } from "../metrics-catalog.js";
import { renderOptionsOf } from "../monitoring/config.js";
import { renderDashboard } from "../monitoring/dashboard.js";
import { renderRules } from "../monitoring/rules.js";
import { CliExit, cliConfig, EXIT, printJson } from "./context.js";
import { table } from "./style.js";

/** Writes `text` to `file` atomically (a reader such as Prometheus never sees half a file), or to stdout. */
function output(text: string, file: string | undefined): void {
  if (!file) return void process.stdout.write(text);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    throw new CliExit(EXIT.failed, `cannot write ${file}: ${(err as Error).message}`);
  }
  process.stderr.write(`tradeguard: wrote ${file}\n`);
}

function options() {
  const o = renderOptionsOf(cliConfig());
  if (o.defaultRunbook)
    process.stderr.write(`tradeguard: runbook_url is not configured: runbook links use the default ${o.runbookUrl}\n`);
  return o;
}

/** Registers the monitoring command group. */
export function registerMonitoring(program: Command): void {
  const monitoring = program
    .command("monitoring")
    .description("Prometheus rules and the Grafana dashboard for this desk, from the metric catalog");
  monitoring
    .command("rules")
    .description("render the Prometheus alerting rules (runbook_url links from the config)")
    .option("--out <file>", "write to this file (atomically) instead of stdout")
    .addHelpText(
      "after",
      "\nExit codes: 0 written, 1 the file could not be written, 2 configuration.\nThen: promtool check rules <file>, and reload Prometheus (SIGHUP or POST /-/reload).\n",
    )
    .action((opts: { out?: string }) => output(renderRules(options()), opts.out));
  monitoring
    .command("dashboard")
    .description("render the Grafana dashboard JSON (what `tradeguard grafana push` uploads)")
    .option("--out <file>", "write to this file (atomically) instead of stdout")
    .action((opts: { out?: string }) => output(renderDashboard(options()), opts.out));
  monitoring
    .command("catalog")
    .description("every metric /metrics exports: name, type, labels, who sets it, help")
    .option("--json", "print as JSON")
    .action((opts: { json?: boolean }) => {
      if (opts.json) return printJson({ metrics: METRICS });
      const rows = METRICS.map((m) => [m.name, m.type, m.labels.join(",") || "-", m.source, m.help]);
      process.stdout.write(`${table(["metric", "type", "labels", "set by", "help"], rows)}\n`);
    });
}
