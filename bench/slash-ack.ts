// P2 slash-ack: signed /status slash commands (a fresh trigger_id each, so none is dropped as a duplicate) from
// autocannon, keep-alive, 10 connections, against the full bot in a process of its own (bench/slack-server.ts: the
// guarded receiver, de-dup, roles, the handler; its response_url posts go to a fake Slack here) and against a bare
// Bolt app acking the same requests. Ack throughput at full load (target: the bot ≥ 60 % of the bare app), then both
// at a fixed 500 req/s (target: the bot's p99 ≤ 20 ms).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { freePort } from "../test/support/global-setup.js";
import { commandBody } from "../test/support/slack.js";
import { type Benchmark, fmtInt, fmtMs, type Row, ratioOf, say, targetRow, withRedis } from "./lib.js";
import { botEnv, FakeSlack, signed } from "./slack.js";

const CONNECTIONS = 10;
const SECONDS = 8;
const WARMUP_SECONDS = 2;
const RATE = 500;
const TARGET_SHARE = 0.6;
const TARGET_P99_MS = 20;
const SERVER = fileURLToPath(new URL("./slack-server.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../", import.meta.url));

/** Starts bench/slack-server.ts (`real` or `bare`) and resolves once it listens. */
async function serve(kind: "real" | "bare", env: Record<string, string>): Promise<ChildProcess> {
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each app, written when it stops (the "why" of a miss).
  const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, "--import", "tsx", SERVER, kind], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} app did not start within 60 s`)), 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("READY")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`${kind} app exited (${code}) before it was ready`)));
  });
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** One autocannon run of signed /status requests. */
async function load(url: string, responseUrl: string, seconds: number, rate?: number): Promise<autocannon.Result> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
    requests: [
      {
        method: "POST",
        setupRequest: (req) => {
          const body = commandBody("/status", "", "U0BENCH", responseUrl);
          return { ...req, body, headers: signed(body) };
        },
      },
    ],
  });
  if (result.errors > 0 || result.non2xx > 0)
    throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx answers of ${result.requests.total}`);
  return result;
}

export const slashAck: Benchmark = {
  id: "P2",
  name: "slash-ack",
  description: `signed /status ack throughput (autocannon, keep-alive, ${CONNECTIONS} connections), bot vs bare Bolt app; bot p99 at ${RATE} req/s`,
  run: () =>
    withRedis(async (srv) => {
      const home = mkdtempSync(join(tmpdir(), "tg-bench-ack-"));
      const slack = await FakeSlack.start();
      const children: ChildProcess[] = [];
      try {
        const responseUrl = slack.url("/response/status");
        const port = await freePort();
        const env = botEnv(home, { redisUrl: srv.url, prefix: "bench:ack:", slack, port });
        const measure = async (kind: "real" | "bare", p: number) => {
          const child = await serve(kind, { ...env, PORT: String(p) });
          children.push(child);
          const url = `http://127.0.0.1:${p}/slack/events`;
          await load(url, responseUrl, WARMUP_SECONDS);
          const full = await load(url, responseUrl, SECONDS);
          const paced = await load(url, responseUrl, SECONDS, RATE);
          await stopChild(child);
          return { full, paced };
        };
        const bare = await measure("bare", await freePort());
        const real = await measure("real", port);
        const realRate = real.full.requests.average;
        const bareRate = bare.full.requests.average;
        const paced = real.paced;
        say(
          `bot:  ${fmtInt(realRate)} acks/s at full load (p50 ${fmtMs(real.full.latency.p50)}, p99 ${fmtMs(real.full.latency.p99)}); ` +
            `${fmtInt(slack.responseCount)} response_url posts received from it`,
        );
        say(
          `bare: ${fmtInt(bareRate)} acks/s at full load (p50 ${fmtMs(bare.full.latency.p50)}, p99 ${fmtMs(bare.full.latency.p99)}); ` +
            `at ${RATE} req/s p50 ${fmtMs(bare.paced.latency.p50)} p99 ${fmtMs(bare.paced.latency.p99)}`,
        );
        say(
          `bot at ${RATE} req/s: ${fmtInt(paced.requests.average)} req/s served, latency p50 ${fmtMs(paced.latency.p50)} p99 ${fmtMs(paced.latency.p99)} max ${fmtMs(paced.latency.max)}`,
        );
        const rows: Row[] = [
          targetRow({
            id: "P2",
            bench: "slash-ack",
            metric: `/status ack throughput, ${CONNECTIONS} connections`,
            measured: `${fmtInt(realRate)} req/s`,
            baseline: `bare Bolt app ${fmtInt(bareRate)} req/s`,
            ratio: ratioOf(realRate, bareRate),
            target: `≥ ${TARGET_SHARE * 100} %`,
            pass: realRate >= TARGET_SHARE * bareRate,
          }),
          targetRow({
            id: "P2",
            bench: "slash-ack",
            metric: `/status ack latency p99 at ${RATE} req/s`,
            measured: fmtMs(paced.latency.p99),
            baseline: `bare Bolt app p99 ${fmtMs(bare.paced.latency.p99)}`,
            ratio: ratioOf(paced.latency.p99, bare.paced.latency.p99),
            target: `≤ ${TARGET_P99_MS} ms`,
            pass: paced.latency.p99 <= TARGET_P99_MS,
          }),
        ];
        return rows;
      } finally {
        for (const c of children) await stopChild(c);
        await slack.close();
        rmSync(home, { recursive: true, force: true });
      }
    }),
};
