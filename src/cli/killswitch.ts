// tradeguard panic | clear | approve | reject — the kill switch from a shell, through the same operations as Slack.
// approve/reject dispatch on the request id's prefix: c… clear, r… key rotation, g… cutover (go-live).
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { cliActor } from "../config.js";
import { ConsoleNotifier } from "../notify.js";
import { incompleteSteps, reportText } from "../ops/panic-report.js";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";
import { countdown, nonBlockingStream, Progress } from "./progress.js";
import { PanicProgress } from "./progress-panic.js";

async function confirmOnTty(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return answer.trim() === "HALT";
  } finally {
    rl.close();
  }
}

/** Registers panic, clear, approve and reject. */
export function registerKillSwitch(program: Command): void {
  program
    .command("panic")
    .description("HALT trading: set mode=halt, cancel every order and flatten every position on every broker, verify")
    .requiredOption("--reason <reason>", "why (recorded in the audit log and the alert)")
    .option("--yes", "do not ask for confirmation")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      '\nExit codes: 0 HALT-VERIFIED, 1 HALT-PARTIAL or incomplete (or not confirmed), 2 usage (off a terminal without --yes), 3 the halt flag is not set in Redis.\nExamples:\n  tradeguard panic --reason "runaway strategy"          (asks you to type HALT)\n  tradeguard panic --reason "runaway strategy" --yes --json\n',
    )
    .action(async (opts: { reason: string; yes?: boolean; json?: boolean }) => {
      const actor = cliActor();
      await withRuntime(async (rt) => {
        if (!opts.yes) {
          if (!process.stdin.isTTY) throw new CliExit(EXIT.usage, "not a terminal: pass --yes to confirm the panic");
          const { radius } = await rt.ops.panicRequest.prepare(actor, opts.reason);
          for (const b of radius!.brokers) {
            process.stderr.write(
              `  ${b.broker} (${b.kind}): ${b.openOrders} open orders, ${b.positions} positions, gross ${b.grossNotional}${b.error ? ` [could not read: ${b.error}]` : ""}\n`,
            );
          }
          if (!(await confirmOnTty("Type HALT to halt trading and flatten everything: ")))
            throw new CliExit(EXIT.failed, "not confirmed; nothing was changed");
        } else await rt.ops.panicRequest.prepare(actor, opts.reason, { radius: false });
        // The report is printed here; on the console the alert would only print it a second time.
        const announce = !(rt.notifier instanceof ConsoleNotifier);
        // Progress on stderr: the halt flag the moment it is set, then each broker's steps (src/cli/progress-panic.ts).
        const stderr = nonBlockingStream();
        const progress = new PanicProgress(
          // Never blocking: a terminal that stops reading must not freeze the flatten (nonBlockingStream).
          new Progress({ json: opts.json, stream: stderr }),
          rt.brokers.map((b) => b.name),
        );
        progress.start();
        const { report, joined } = await rt.ops.panic
          .halt({ actor, reason: opts.reason, announce, onStep: progress.onStep, onProgress: progress.onProgress })
          .finally(() => progress.done());
        await stderr.drained(1_000); // the steps before the report, in order
        if (opts.json) printJson({ ...report, joined });
        else process.stdout.write(`${joined ? "(joined the panic already running)\n" : ""}${reportText(report)}\n`);
        // Exit codes (README): 3 when Redis could not take the halt flag, or the panic is not recorded in Redis;
        // 1 when a broker is not verified flat, or the panic is otherwise incomplete (snapshot, a Redis step).
        if (report.haltFlag === "not_set") {
          process.stderr.write(
            "\n!!! REDIS WAS UNREACHABLE: THE HALT FLAG IS NOT SET. Trading processes may keep trading. Audit entries are in the local audit file. !!!\n",
          );
          throw new CliExit(EXIT.unavailable);
        }
        if (report.status !== "HALT-VERIFIED") throw new CliExit(EXIT.failed);
        if (report.redisErrors.some((e) => e.startsWith("record the finished panic:"))) {
          process.stderr.write(
            `\n!!! REDIS FAILED DURING THE PANIC: the halt flag was set at ${report.haltedAt} and every broker is verified flat, but the panic is not recorded in Redis (${report.redisErrors.join("; ")}). Check \`tradeguard status\` once Redis is back; a running bot records it then. !!!\n`,
          );
          throw new CliExit(EXIT.unavailable);
        }
        const incomplete = incompleteSteps(report);
        if (incomplete.length)
          throw new CliExit(EXIT.failed, `halted and verified flat, but incomplete: ${incomplete.join("; ")}`);
      });
    });

  program
    .command("clear")
    .description("ask to resume trading (needs approval from someone else)")
    .requiredOption("--reason <reason>", "why trading may resume")
    .option("--json", "print the request as JSON")
    .addHelpText(
      "after",
      '\nExit codes: 0 requested, 1 refused (not halted, not in roles.clear), 3 Redis unreachable.\nExample:\n  tradeguard clear --reason "flat and reconciled"   then someone else: tradeguard approve <c-id>\n',
    )
    .action(async (opts: { reason: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "clear");
        const req = await rt.ops.resume.request(cliActor(), opts.reason);
        if (opts.json) printJson(req);
        else
          process.stdout.write(
            `Clear request ${req.id} created; it needs ${req.needed} approval(s) from someone other than ${req.requester}: tradeguard approve ${req.id}\n`,
          );
      });
    });

  program
    .command("approve <requestId>")
    .description("approve a clear request (c…), a key rotation (r…; the last approval runs it) or a cutover (g…)")
    .option("--json", "print the outcome as JSON")
    .option("--wait", "stay until the soak ends and trading is active")
    .addHelpText(
      "after",
      "\nExit codes: 0 recorded or approved, 1 refused (your own request, not in roles.approve, expired), 3 Redis unreachable.\nExamples:\n  tradeguard approve c20261202T013000Z-1a2b3c --wait\n  tradeguard approve r20261202T013000Z-4d5e6f --json\n",
    )
    .action(async (requestId: string, opts: { json?: boolean; wait?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "approve");
        if (requestId.startsWith("g")) {
          // A cutover: the gates are checked again; the last approval enables the asset class.
          const r = await rt.ops.cutover.approve(cliActor(), requestId);
          if (opts.json) return printJson(r);
          process.stdout.write(
            r.outcome === "recorded"
              ? `Approval recorded (${r.request.approvals.length}/${r.request.needed}).\n`
              : `Enabled: ${r.request.assetClass} (cutover ${r.request.id}); trading processes may send its orders.\n`,
          );
          return;
        }
        if (requestId.startsWith("r")) {
          const r = await rt.ops.rotate.approve(cliActor(), requestId);
          if (opts.json) return printJson(r);
          process.stdout.write(
            r.outcome === "recorded"
              ? `Approval recorded (${r.request.approvals.length}/${r.request.needed}).\n`
              : `Rotated: ${r.request.broker} uses key ${r.request.pendingKeyId}; revoke ${r.request.currentKeyId ?? "the old key"} at the venue, then tradeguard secrets retire ${r.request.broker} ${r.request.currentKeyId ?? "<key-id>"}.\n`,
          );
          return;
        }
        const res = await rt.ops.resume.approve(cliActor(), requestId);
        if (opts.json) printJson(res);
        else if (res.outcome === "recorded")
          process.stdout.write(`Approval recorded (${res.request.approvals.length}/${res.request.needed}).\n`);
        else process.stdout.write(`Approved: trading is reduce-only until ${res.soakUntil}, then active.\n`);
        if (opts.wait && res.outcome === "approved") {
          // The soak's countdown on stderr on a terminal; with --json, one line on stderr when it is over.
          const p = new Progress({ json: opts.json });
          const until = Date.parse(res.soakUntil ?? "") || Date.now();
          let mode = (await rt.mode.get()).mode;
          p.tick(() => `reduce-only soak: ${countdown(until - Date.now())} left, then active (${res.soakUntil})`);
          try {
            while (mode === "reduce_only") {
              await rt.ops.resume.soakTick();
              await new Promise((r) => setTimeout(r, 1000));
              mode = (await rt.mode.get()).mode;
            }
            if (opts.json) p.step(`soak over ${mode === "active" ? p.ok() : p.warn()} mode is now ${mode}`);
          } finally {
            p.done();
          }
          // With --json, stdout holds only the outcome document.
          if (!opts.json) process.stdout.write(`Mode is now ${mode}.\n`);
        }
      });
    });

  program
    .command("reject <requestId>")
    .description("reject (or, as its requester, withdraw) a clear request (c…), a key rotation (r…) or a cutover (g…)")
    .option("--json", "print the request as JSON")
    .action(async (requestId: string, opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "reject");
        const kind = requestId.startsWith("g") ? "Cutover" : requestId.startsWith("r") ? "Rotation" : "Clear";
        const req =
          kind === "Cutover"
            ? await rt.ops.cutover.reject(cliActor(), requestId)
            : kind === "Rotation"
              ? await rt.ops.rotate.reject(cliActor(), requestId)
              : await rt.ops.resume.reject(cliActor(), requestId);
        if (opts.json) return printJson(req);
        process.stdout.write(`${kind} request ${req.id} is ${req.state}.\n`);
      });
    });
}
