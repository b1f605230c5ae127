// tradeguard endpoint list|use — which endpoint each broker's adapters use, each endpoint's latency window, and the
// switch back after a failover (the same operation a Slack command would call). SOP: RUNBOOK.md#sop-endpoint-failover.
import type { Command } from "commander";
import { cliActor } from "../config.js";
import type { BrokerEndpointsStatus } from "../ops/endpoints.js";
import { printJson, requireRedis, withRuntime } from "./context.js";

const EXIT_HELP =
  "\nExit codes: 0 ok, 1 refused (not in roles.rotate, or the endpoint failed the check read), 2 usage (unknown broker, not one of its endpoints), 3 Redis unreachable.\n";

const ms = (v: number | undefined) => (v === undefined ? "—" : `${v} ms`);

/** The human table of `endpoint list`. */
export function listText(rows: BrokerEndpointsStatus[]): string {
  if (rows.length === 0) return "no broker has endpoints (alpaca, or ccxt with endpoints: in the config)\n";
  const lines: string[] = [];
  for (const b of rows) {
    const flag = b.flag
      ? ` (since ${b.flag.since ?? "?"} by ${b.flag.by ?? "?"}${b.flag.reason ? `: ${b.flag.reason}` : ""})`
      : " (no flag: the primary)";
    lines.push(`${b.broker} (${b.kind}) active ${b.active}${flag}`);
    if (b.flag_problem) lines.push(`  flag ignored: ${b.flag_problem}`);
    for (const e of b.endpoints) {
      const w = e.window;
      const lat = w.latency_ms;
      lines.push(
        `  ${e.active ? "*" : " "} ${e.role.padEnd(7)} ${e.url}  reads ${w.calls} errors ${w.errors}  p50 ${ms(lat?.p50)} p99 ${ms(lat?.p99)}  ${e.healthy ? "healthy" : e.last_read_at ? "NOT healthy" : "not measured"}${e.last_error ? `  last error: ${e.last_error}` : ""}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Registers the endpoint group. */
export function registerEndpoint(program: Command): void {
  const endpoint = program
    .command("endpoint")
    .description("broker endpoints: the active one, latency per endpoint, switching back after a failover");
  endpoint
    .command("list")
    .description("every broker's endpoints: which one is active, p50/p99 over the guard's window, health")
    .option("--json", "print as JSON")
    .addHelpText("after", EXIT_HELP)
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "endpoint list");
        const rows = await rt.ops.endpoints.list();
        if (opts.json) printJson(rows);
        else process.stdout.write(listText(rows));
      });
    });
  endpoint
    .command("use <broker> <url>")
    .description(
      "make <url> the broker's active endpoint (the only way back after a failover); checks it answers first",
    )
    .option("--reason <reason>", "why (audited and announced)", "")
    .option("--force", "switch even when the endpoint fails the check read")
    .option("--json", "print the outcome as JSON")
    .addHelpText(
      "after",
      `${EXIT_HELP}Example:\n  tradeguard endpoint use alpaca-live https://api.alpaca.markets --reason "primary healthy again"\n`,
    )
    .action(async (broker: string, url: string, opts: { reason: string; force?: boolean; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "endpoint use");
        const r = await rt.ops.endpoints.use(cliActor(), broker, url, { reason: opts.reason, force: opts.force });
        if (opts.json) return printJson(r);
        process.stdout.write(
          r.changed
            ? `${r.broker}: now on ${r.to} (was ${r.from})${r.check ? `; check read ${r.check.ms} ms` : " (not checked: --force)"}.\n`
            : `${r.broker}: ${r.to} is already the active endpoint; nothing changed.\n`,
        );
      });
    });
}
