// tradeguard secrets stage|list|test|retire and tradeguard rotate — managed brokers' keys. A secret is read from
// standard input only (never argv or env, which other users and logs can see) and is never printed.
import type { Command } from "commander";
import { cliActor } from "../config.js";
import { UsageError } from "../errors.js";
import { brokerArg } from "../ops/rotate.js";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";
import { table } from "./style.js";

/** Reads the secret (first line) and an optional passphrase (second line) from standard input. */
async function readSecretFromStdin(): Promise<{ secret: string; password?: string }> {
  if (process.stdin.isTTY) process.stderr.write("Secret (then Enter; a second line for a passphrase, then Ctrl-D): ");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const [secret = "", password] = Buffer.concat(chunks).toString("utf8").split(/\r?\n/);
  if (!secret.trim()) throw new UsageError("no secret on standard input (pipe it in, never pass it as an argument)");
  return { secret: secret.trim(), ...(password?.trim() ? { password: password.trim() } : {}) };
}

/** Registers the secrets group and rotate. */
export function registerSecrets(program: Command): void {
  const secrets = program.command("secrets").description("managed brokers' API keys in the secret store (never shown)");
  secrets
    .command("stage <broker>")
    .description("store a new key as PENDING (the first key of a broker becomes CURRENT); the secret on stdin")
    .requiredOption("--key-id <id>", "the key id (public part) of the new credential")
    .option("--json", "print the outcome as JSON")
    .addHelpText(
      "after",
      "\nExample:\n  pass show alpaca/live-new | tradeguard secrets stage alpaca-live --key-id PKNEW123\n",
    )
    .action(async (broker: string, opts: { keyId: string; json?: boolean }) => {
      const { secret, password } = await readSecretFromStdin();
      await withRuntime(async (rt) => {
        const r = await rt.ops.secrets.stage(cliActor(), brokerArg(broker), { keyId: opts.keyId, secret, password });
        if (opts.json) return printJson(r);
        process.stdout.write(
          r.state === "CURRENT"
            ? `${r.broker}: key ${r.keyId} provisioned (CURRENT).\n`
            : `${r.broker}: key ${r.keyId} staged (PENDING); rotate with: tradeguard rotate ${r.broker}\n`,
        );
      });
    });
  secrets
    .command("list")
    .description("per managed broker: current key id and age, pending and previous key ids")
    .option("--json", "print as JSON")
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        const rows = (await rt.ops.secrets.list()).map((k) => ({
          broker: k.broker,
          current_key_id: k.current?.keyId ?? null,
          current_age_days: k.current?.ageDays ?? null,
          pending_key_id: k.pending,
          previous_key_id: k.previous,
        }));
        if (opts.json) return printJson(rows);
        if (rows.length === 0)
          return void process.stdout.write("no managed brokers (give a broker `secret: <name>` in the config)\n");
        const cells = rows.map((r) => [
          r.broker,
          r.current_key_id ?? "(none)",
          r.current_age_days === null ? "—" : `${r.current_age_days} d`,
          r.pending_key_id ?? "—",
          r.previous_key_id ?? "—",
        ]);
        process.stdout.write(`${table(["broker", "current", "age", "pending", "previous"], cells)}\n`);
      });
    });
  secrets
    .command("test <broker>")
    .description("one authenticated read-only call with the CURRENT (or --pending) key: exit 0 accepted, 1 refused")
    .option("--pending", "test the PENDING key instead")
    .option("--json", "print the outcome as JSON")
    .action(async (broker: string, opts: { pending?: boolean; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const r = await rt.ops.secrets.test(cliActor(), brokerArg(broker), opts.pending ? "PENDING" : "CURRENT");
        if (opts.json) printJson(r);
        else process.stdout.write(`${broker}: key ${r.keyId ?? "—"} ${r.detail}\n`);
        if (!r.ok) throw new CliExit(EXIT.failed);
      });
    });
  secrets
    .command("retire <broker> <keyId>")
    .description("drop the PREVIOUS key after revoking it at the venue (resolves its revoke alert)")
    .option("--json", 'print {"broker","key_id","retired"} as JSON')
    .action(async (broker: string, keyId: string, opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        await rt.ops.secrets.retire(cliActor(), brokerArg(broker), keyId);
        if (opts.json) return printJson({ broker, key_id: keyId, retired: true });
        process.stdout.write(`${broker}: key ${keyId} retired.\n`);
      });
    });

  program
    .command("rotate <broker>")
    .description("ask to rotate a managed broker's key to its staged PENDING key (needs someone else's approval)")
    .option("--reason <reason>", "why", "")
    .option("--json", "print the request as JSON")
    .action(async (broker: string, opts: { reason: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "rotate");
        const req = await rt.ops.rotate.request(cliActor(), brokerArg(broker), opts.reason);
        if (opts.json)
          return printJson({ id: req.id, broker: req.broker, state: req.state, pending_key_id: req.pendingKeyId });
        process.stdout.write(
          `Rotation ${req.id} of ${req.broker} (${req.currentKeyId ?? "none"} → ${req.pendingKeyId}) needs ${req.needed} approval(s) from someone else: tradeguard approve ${req.id}\n`,
        );
      });
    });
}
