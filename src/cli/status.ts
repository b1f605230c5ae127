// tradeguard status
import type { Command } from "commander";
import { sopLink } from "../notify.js";
import { reportText } from "../ops/panic-report.js";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";
import { paint } from "./style.js";

/** Registers status. */
export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("trading mode, reason, since, last panic report")
    .option("--json", "print as JSON")
    .addHelpText(
      "after",
      "\nExit codes: 0 shown, 1 a key holds garbage (named on stderr), 3 Redis unreachable.\nExample:\n  tradeguard status --json\n",
    )
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "status");
        const s = await rt.ops.status();
        // Unreadable keys are named (stderr) after the rest of the state, and the exit code says something is wrong.
        const unreadable = () => {
          for (const u of s.unreadable) process.stderr.write(`tradeguard: ${u.key}: ${u.problem}\n`);
          if (s.unreadable.length) throw new CliExit(EXIT.failed);
        };
        if (opts.json) {
          printJson(s);
          return unreadable();
        }
        const modeStyle = s.mode === "active" ? "green" : s.mode === "halt" ? "red" : "yellow";
        const lines = [`mode: ${paint(modeStyle, s.mode)}${s.invalid ? ` (INVALID VALUE: ${s.invalid})` : ""}`];
        if (s.since) lines.push(`since: ${s.since} by ${s.actor ?? "?"}`);
        if (s.reason) lines.push(`reason: ${s.reason}`);
        if (s.panicRunning) lines.push(`panic running: ${s.panicRunning}`);
        if (s.soakUntil) lines.push(`reduce-only soak until: ${s.soakUntil}`);
        if (s.clearRequest)
          lines.push(
            `clear request ${s.clearRequest.id} by ${s.clearRequest.requester}: ${s.clearRequest.approvals.length} approval(s), expires ${s.clearRequest.expiresAt}`,
          );
        lines.push(`brokers: ${s.brokers.map((b) => `${b.name} (${b.kind})`).join(", ")}`);
        if (s.flags.eventLock) lines.push(`event lock: ${s.flags.eventLock}`);
        if (s.flags.luldPaused) lines.push(`LULD pauses: ${s.flags.luldPaused} symbol(s)`);
        if (s.flags.ssrActive) lines.push(`SSR (Rule 201) list: ${s.flags.ssrActive} symbol(s)`);
        for (const g of s.guards)
          lines.push(`guard ${g.name}: ${g.state}${g.detail && g.detail !== "ok" ? ` — ${g.detail}` : ""}`);
        for (const a of s.alerts)
          lines.push(
            `alert ${paint(a.severity === "critical" ? "red" : a.severity === "warn" ? "yellow" : "dim", a.severity)}: ${a.title} (since ${a.since}, ${a.count}×${a.ackedBy ? `, acked by ${a.ackedBy}` : ""}) → ${sopLink(rt.config.runbookUrl, a.sop)}`,
          );
        for (const k of s.keys)
          lines.push(
            `key ${k.broker}: ${k.keyId ? `${k.keyId}, ${k.ageDays} day(s) old` : "NONE (tradeguard secrets stage)"}${k.pendingKeyId ? `; staged ${k.pendingKeyId}` : ""}${k.rotation ? `; rotation ${k.rotation} waiting for approval` : ""}`,
          );
        for (const r of s.recon)
          lines.push(
            `recon ${r.date} ${r.broker ?? "all"}: ${r.errors ? "could not reconcile" : r.ok ? "ok" : `${r.mismatches} mismatch(es)`} (${r.at})`,
          );
        if (s.lastPanic) lines.push("", "last panic:", reportText(s.lastPanic));
        for (const u of s.unreadable) lines.push(`UNREADABLE ${u.key}: ${u.problem}`);
        process.stdout.write(`${lines.join("\n")}\n`);
        unreadable();
      });
    });
}
