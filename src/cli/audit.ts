// tradeguard audit verify | anchor | pubkey | tail
import type { Command } from "commander";
import { verifyCheckpoints } from "../audit/anchor.js";
import { loadAuditKey, loadPublicKey } from "../audit/keyfile.js";
import { type AuditSource, readEntries, tailEntries } from "../audit/log.js";
import { verifySource } from "../audit/verify-parallel.js";
import { ConfigError } from "../errors.js";
import { createKeys } from "../state/keys.js";
import { createRedis, redisReachable } from "../state/redis.js";
import { CliExit, cliConfig, EXIT, printJson } from "./context.js";
import { intArg } from "./options.js";
import { bar, Progress } from "./progress.js";

async function source(file: string | undefined): Promise<{ src: AuditSource; close: () => void }> {
  if (file) return { src: { kind: "file", file }, close: () => {} };
  const config = cliConfig();
  const redis = createRedis(config.redis, { interactive: true, name: "tradeguard-cli" });
  if (!(await redisReachable(redis, 2_000))) {
    redis.disconnect();
    throw new CliExit(
      EXIT.unavailable,
      `Redis is unreachable; verify the local audit file instead: --file ${config.audit.file}`,
    );
  }
  return { src: { kind: "redis", redis, keys: createKeys(config.redis.prefix) }, close: () => redis.disconnect() };
}

function publicKey(pubkeyFile: string | undefined) {
  if (pubkeyFile) return loadPublicKey(pubkeyFile);
  const config = cliConfig();
  try {
    return loadAuditKey(config.audit.keyFile, { create: false }).publicKey;
  } catch (err) {
    if (err instanceof ConfigError) throw new CliExit(EXIT.usage, `${err.userMessage} (or pass --pubkey FILE)`);
    throw err;
  }
}

/** Registers the audit command group. */
export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the signed, hash-chained audit log");

  audit
    .command("verify")
    .description("verify the chain (Redis stream by default, or a JSONL file)")
    .option("--pubkey <file>", "Ed25519 public key PEM (default: derived from AUDIT_KEY_FILE)")
    .option("--file <path>", "verify a JSONL audit file instead of Redis")
    .option(
      "--full",
      "verify every signature (default: hash links on every entry, signatures on checkpoints and the head)",
    )
    .option("--checkpoints", "also check the chain against every anchored checkpoint (truncation, rewriting)")
    .option("--json", "print the result as JSON")
    .action(async (opts: { pubkey?: string; file?: string; full?: boolean; checkpoints?: boolean; json?: boolean }) => {
      const key = publicKey(opts.pubkey);
      const { src, close } = await source(opts.file);
      try {
        const started = Date.now();
        // On several cores when the chain is long (src/audit/verify-parallel.ts); the result is verifyChain's.
        // On a terminal, a bar with entries/s and the ETA on stderr (nothing there with --json or off a terminal).
        const p = new Progress({ json: opts.json });
        const onProgress = ({ done, total }: { done: number; total: number | null }) =>
          p.status(`verifying ${bar(done, total, Date.now() - started, "entries")}`);
        let result: Awaited<ReturnType<typeof verifySource>>;
        let cps: Awaited<ReturnType<typeof verifyCheckpoints>> | null = null;
        try {
          result = await verifySource(src, key, { full: opts.full, onProgress: p.live ? onProgress : undefined });
          // Checkpoints are verified with the same public key: a checkpoint signed by another key is not one of ours.
          // The S3 SDK is loaded only when needed: every CLI command (panic included) loads this file.
          const sink = opts.checkpoints ? (await import("../s3/anchoring.js")).checkpointSinkFor(cliConfig()) : null;
          if (sink) {
            p.status("checking the chain against the anchored checkpoints…");
            cps = await verifyCheckpoints(readEntries(src), await sink.readAll(), key);
          }
        } finally {
          p.done();
        }
        if (opts.json)
          printJson(
            cps
              ? {
                  ...result,
                  ok: result.ok && cps.ok,
                  firstBad: result.ok ? cps.firstBad : result.firstBad,
                  reason: result.ok ? cps.reason : result.reason,
                  checkpoints: cps,
                }
              : result,
          );
        else {
          process.stdout.write(
            result.ok
              ? `OK: ${result.entries} entries verified (${opts.full ? "every signature" : "hash chain + checkpoint/head signatures"}) in ${Date.now() - started} ms\n`
              : `TAMPERED: first bad entry seq ${result.firstBad}: ${result.reason}\n`,
          );
          if (cps)
            process.stdout.write(
              cps.ok
                ? `CHECKPOINTS OK: ${cps.checkpoints} checkpoint(s), newest seq ${cps.newest ?? "none"}\n`
                : `CHECKPOINTS FAILED: ${cps.reason}${cps.problems.length > 1 ? ` (+${cps.problems.length - 1} more)` : ""}\n`,
            );
        }
        if (!result.ok || (cps && !cps.ok)) throw new CliExit(EXIT.failed);
      } finally {
        close();
      }
    });

  audit
    .command("anchor")
    .description("write a signed checkpoint of the chain head now (audit bucket, or TRADEGUARD_HOME/checkpoints.jsonl)")
    .option("--json", "print the checkpoint written (or why none was) as JSON")
    .action(async (opts: { json?: boolean }) => {
      const config = cliConfig();
      let signer: ReturnType<typeof loadAuditKey>;
      try {
        signer = loadAuditKey(config.audit.keyFile, { create: false });
      } catch (err) {
        if (err instanceof ConfigError) throw new CliExit(EXIT.usage, err.userMessage);
        throw err;
      }
      const { src, close } = await source(undefined);
      try {
        const { createAnchoring } = await import("../s3/anchoring.js");
        const anchoring = createAnchoring({ config, source: src, signer });
        const r = await anchoring.anchor();
        if (opts.json) printJson(r);
        else
          process.stdout.write(
            r.written ? `ANCHORED: seq ${r.seq} ${r.hash} at ${r.ts} → ${r.location}\n` : `NOT ANCHORED: ${r.reason}\n`,
          );
      } finally {
        close();
      }
    });

  audit
    .command("pubkey")
    .description("print the audit public key (PEM)")
    .option("--json", 'print {"public_key_pem","key_file"} as JSON')
    .action((opts: { json?: boolean }) => {
      const config = cliConfig();
      try {
        const pem = loadAuditKey(config.audit.keyFile, { create: false }).publicPem;
        if (opts.json) printJson({ public_key_pem: pem, key_file: config.audit.keyFile });
        else process.stdout.write(pem);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliExit(EXIT.usage, err.userMessage);
        throw err;
      }
    });

  audit
    .command("tail")
    .description("print the last entries")
    .option("-n <count>", "how many (1 to 100000)", intArg(1, 100_000), 20)
    .option("--file <path>", "read a JSONL audit file instead of Redis")
    .option("--json", "one JSON entry per line (default: readable lines)")
    .action(async (opts: { n: number; file?: string; json?: boolean }) => {
      const n = opts.n;
      const { src, close } = await source(opts.file);
      try {
        for (const raw of await tailEntries(src, n)) {
          if (opts.json) {
            process.stdout.write(`${raw}\n`);
            continue;
          }
          try {
            const e = JSON.parse(raw) as { seq: number; ts: string; actor: string; action: string; details: unknown };
            process.stdout.write(`#${e.seq} ${e.ts} ${e.actor} ${e.action} ${JSON.stringify(e.details)}\n`);
          } catch {
            process.stdout.write(`(unparseable entry) ${raw.slice(0, 200)}\n`);
          }
        }
      } finally {
        close();
      }
    });
}
