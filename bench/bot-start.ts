// P7 bot-start: `tradeguard start` (bin/tradeguard.js over a fresh build of src/, Slack HTTP mode, one paper broker)
// timed from the spawn until GET /healthz answers 200, then its resident memory after 5 s idle; median of 5 starts.
// Baseline, alternated start by start: `node -e` of a bare Bolt app (HTTPReceiver, /healthz pinging Redis) with
// ioredis connected. Targets: idle RSS ≤ 120 MB, start ≤ 1.5× the bare app. The build (tsc into
// bench/.cache/build/, declarations off) is redone only when a source file is newer than it.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/support/global-setup.js";
import {
  type Benchmark,
  builtEnv,
  cacheDir,
  fmtMs,
  fmtRatio,
  median,
  type Row,
  ratioOf,
  say,
  sleep,
  targetRow,
  withRedis,
} from "./lib.js";
import { botEnv, FakeSlack } from "./slack.js";

const STARTS = 5;
const IDLE_MS = 5_000;
const TARGET_RSS_MB = 120;
const TARGET_RATIO = 1.5;
const REPO = fileURLToPath(new URL("../", import.meta.url));

/** The bare app: Bolt on its HTTP receiver, ioredis connected, /healthz answering 200 once Redis answers PING. */
const BARE = `
const { App, HTTPReceiver } = require("@slack/bolt");
const { Redis } = require("ioredis");
const redis = new Redis(process.env.REDIS_URL);
const healthz = (req, res) => {
  redis.ping().then(() => { res.writeHead(200); res.end("ok"); }, () => { res.writeHead(503); res.end(); });
};
const receiver = new HTTPReceiver({
  signingSecret: process.env.SLACK_SIGNING_SECRET,
  customRoutes: [{ path: "/healthz", method: ["GET"], handler: healthz }],
});
const app = new App({ receiver, token: process.env.SLACK_BOT_TOKEN, clientOptions: { slackApiUrl: process.env.SLACK_API_URL } });
app.start({ port: Number(process.env.PORT), host: process.env.HOST });
process.once("SIGTERM", () => process.exit(0));
`;

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

/** bench/.cache/build/{dist,bin}: bin/tradeguard.js over a build of the current sources. The build imports the gate
 *  package as the bot does (`@tradeguard/gate` → packages/gate/dist), which is built first (`tsc -b`, incremental). */
export function ensureBuild(): string {
  const root = join(cacheDir(), "build");
  const stamp = join(root, "built-at");
  const tsc = join(REPO, "node_modules/typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-b", "packages/gate"], { cwd: REPO, stdio: "pipe" });
  const src = Math.max(newest(join(REPO, "src")), newest(join(REPO, "packages/gate/src")));
  if (existsSync(stamp) && Number(readFileSync(stamp, "utf8")) >= src) return root;
  say("build: tsc of src/ into bench/.cache/build (sources changed since the last one)…");
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "bin"), { recursive: true });
  try {
    execFileSync(
      process.execPath,
      [tsc, "-p", "tsconfig.build.json", "--outDir", join(root, "dist"), "--declaration", "false"],
      {
        cwd: REPO,
        stdio: "pipe",
      },
    );
  } catch (err) {
    // tsc emits even with type errors (another change in progress); a missing entry point is fatal.
    if (!existsSync(join(root, "dist/cli/main.js"))) throw err;
    say("build: tsc reported type errors; the emitted build is used as is");
  }
  copyFileSync(join(REPO, "bin/tradeguard.js"), join(root, "bin/tradeguard.js"));
  copyFileSync(join(REPO, "RUNBOOK.md"), join(root, "RUNBOOK.md"));
  writeFileSync(stamp, String(Date.now()));
  return root;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Spawns, polls /healthz every 5 ms until 200; the time to it, and the RSS after IDLE_MS. */
async function startOnce(
  args: string[],
  env: Record<string, string>,
  port: number,
): Promise<{ ms: number; rss: number }> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO,
    env: builtEnv(env),
    stdio: "ignore",
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(" ").slice(0, 60)} exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (performance.now() - t0 > 60_000) throw new Error("no /healthz 200 within 60 s");
      await sleep(5);
    }
    const ms = performance.now() - t0;
    await sleep(IDLE_MS);
    return { ms, rss: rssMb(child.pid!) };
  } finally {
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    });
  }
}

export const botStart: Benchmark = {
  id: "P7",
  name: "bot-start",
  description: `tradeguard start → /healthz 200 and idle RSS, vs node -e of a bare Bolt app with ioredis, median of ${STARTS}`,
  run: () =>
    withRedis(async (srv) => {
      const build = ensureBuild();
      const slack = await FakeSlack.start();
      const home = mkdtempSync(join(tmpdir(), "tg-bench-start-"));
      try {
        const bot: { ms: number; rss: number }[] = [];
        const bare: { ms: number; rss: number }[] = [];
        for (let i = 0; i < STARTS; i++) {
          const port = await freePort();
          const env = botEnv(home, { redisUrl: srv.url, prefix: "bench:start:", slack, port });
          bot.push(await startOnce([join(build, "bin/tradeguard.js"), "start"], env, port));
          bare.push(await startOnce(["-e", BARE], env, port));
        }
        const [botMs, bareMs] = [median(bot.map((s) => s.ms)), median(bare.map((s) => s.ms))];
        const [botRss, bareRss] = [median(bot.map((s) => s.rss)), median(bare.map((s) => s.rss))];
        say(`tradeguard start → /healthz 200: median ${fmtMs(botMs)} (runs ${bot.map((s) => fmtMs(s.ms)).join(", ")})`);
        say(
          `bare Bolt app + ioredis:         median ${fmtMs(bareMs)} (runs ${bare.map((s) => fmtMs(s.ms)).join(", ")})`,
        );
        say(
          `idle RSS after ${IDLE_MS / 1000} s: bot ${botRss.toFixed(0)} MB, bare app ${bareRss.toFixed(0)} MB; start ratio ${fmtRatio(botMs / bareMs)}`,
        );
        const rows: Row[] = [
          targetRow({
            id: "P7",
            bench: "bot-start",
            metric: `idle RSS ${IDLE_MS / 1000} s after start (median)`,
            measured: `${botRss.toFixed(0)} MB`,
            baseline: `bare app ${bareRss.toFixed(0)} MB`,
            ratio: ratioOf(botRss, bareRss),
            target: `≤ ${TARGET_RSS_MB} MB`,
            pass: botRss <= TARGET_RSS_MB,
          }),
          targetRow({
            id: "P7",
            bench: "bot-start",
            metric: "tradeguard start → /healthz 200 (median)",
            measured: fmtMs(botMs),
            baseline: `bare app ${fmtMs(bareMs)}`,
            ratio: ratioOf(botMs, bareMs),
            target: `≤ ${TARGET_RATIO}×`,
            pass: botMs <= TARGET_RATIO * bareMs,
          }),
        ];
        return rows;
      } finally {
        await slack.close();
        rmSync(home, { recursive: true, force: true });
      }
    }),
};
