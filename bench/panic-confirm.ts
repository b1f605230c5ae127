// P1 panic-confirm: a signed block_actions click on the panic confirm button, carrying a confirmation token issued by
// rt.ops.panicRequest.prepare(user, reason) (a fresh one per click, as /panic issues it), POSTed to the full bot
// (createRuntime + startBot, Slack HTTP, fake Slack Web API), timed from the POST until a subscriber of the mode
// channel — the one the gate library subscribes to — receives the mode=halt event (parsed as the gate parses it).
// (A createGate client itself is not used: since halt-hold.ts it holds a halt until a mode that descends from it, so
// back-to-back drills reset with a plain mode change would leave it halted.) Baseline, interleaved click by click: a
// bare Bolt app on Bolt's HTTP receiver whose action handler only acks and does SET mode + PUBLISH (the mode event),
// timed the same way to the same subscriber. Target ≤ 1.5× at p50 and at p99.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ids } from "../src/bot/ids.js";
import { createRuntime, loadAppConfig } from "../src/main.js";
import { createNotifier } from "../src/notify-factory.js";
import type { Runtime } from "../src/runtime.js";
import { startBot } from "../src/services.js";
import { modeEventJson, parseModeEvent } from "../src/state/mode.js";
import { createRedis } from "../src/state/redis.js";
import { freePort } from "../test/support/global-setup.js";
import { silentLog } from "../test/support/log.js";
import { blockActionBody } from "../test/support/slack.js";
import {
  type Benchmark,
  dist,
  fmtDist,
  fmtMs,
  fmtRatio,
  type Row,
  ratioOf,
  say,
  targetRow,
  waitUntil,
  withRedis,
} from "./lib.js";
import { TimedSubscriber } from "./pubsub.js";
import { botEnv, FakeSlack, signed, startBareApp } from "./slack.js";

const RUNS = 100;
const WARMUP = 5;
const TARGET_RATIO = 1.5;
const USER = "U0BENCH";
const FINAL = /HALT-(VERIFIED|PARTIAL)/;

/** Times one click: POST → the subscriber receives mode=halt; fails loudly rather than hang. */
async function click(url: string, body: string, sub: TimedSubscriber, channel: string): Promise<number> {
  const halted = sub.next((ch, msg) => ch === channel && parseModeEvent(msg)?.mode === "halt");
  const t0 = performance.now();
  const res = await fetch(url, { method: "POST", headers: signed(body), body });
  if (!res.ok) throw new Error(`click answered ${res.status}: ${await res.text()}`);
  await res.text();
  let timer: NodeJS.Timeout | undefined;
  const at = await Promise.race([
    halted,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no mode=halt within 10 s of a click")), 10_000);
    }),
  ]).finally(() => clearTimeout(timer));
  return at - t0;
}

/** Back to active. */
async function reset(rt: Runtime): Promise<void> {
  await rt.mode.set("active", { reason: "bench reset", actor: "bench" });
}

export const panicConfirm: Benchmark = {
  id: "P1",
  name: "panic-confirm",
  description: `signed confirm click → mode=halt received on the gate's channel, full bot vs a bare Bolt app, ${RUNS} clicks each`,
  run: () =>
    withRedis(async (srv) => {
      const home = mkdtempSync(join(tmpdir(), "tg-bench-panic-"));
      const removeHome = () => rmSync(home, { recursive: true, force: true });
      const slack = await FakeSlack.start();
      slack.keep = "/response/r";
      const cleanups: (() => Promise<unknown> | unknown)[] = [];
      try {
        const prefix = "bench:panic:";
        const port = await freePort();
        const config = loadAppConfig(botEnv(home, { redisUrl: srv.url, prefix, slack, port }));
        const rt = await createRuntime(config, { log: silentLog, notifier: createNotifier(config, silentLog) });
        cleanups.unshift(() => rt.close());
        const bot = await startBot(rt);
        cleanups.unshift(() => bot.stop());
        const botUrl = `http://127.0.0.1:${port}/slack/events`;

        const raw = createRedis(srv.url, { name: "bench-bare-app" });
        cleanups.unshift(() => raw.disconnect());
        const bare = await startBareApp(slack.url("/api/"), await freePort(), (app) => {
          app.action(ids.panicConfirm, async ({ ack }) => {
            await ack();
            const ev = modeEventJson("halt", "bench", USER, new Date().toISOString());
            await raw.pipeline().set(rt.keys.mode, "halt").publish(rt.keys.modeChannel, ev).exec();
          });
        });
        cleanups.unshift(() => bare.stop());

        const sub = await TimedSubscriber.connect(srv.url, [rt.keys.modeChannel]);
        cleanups.unshift(() => sub.close());
        await reset(rt);
        const channel = rt.keys.modeChannel;
        say(
          `bot: Slack HTTP on ${botUrl}, 1 paper broker (empty book); bare Bolt app on ${bare.url}; subscriber on ${channel}`,
        );

        const real: number[] = [];
        const base: number[] = [];
        for (let i = 0; i < WARMUP + RUNS; i++) {
          const { confirmation } = await rt.ops.panicRequest.prepare(USER, "bench drill");
          const response = `/response/r${i}`;
          const t = await click(
            botUrl,
            blockActionBody(ids.panicConfirm, confirmation, USER, slack.url(response)),
            sub,
            channel,
          );
          // The panic runs to its end (flatten, report) before the next click: a click that joined would not halt.
          await waitUntil(
            "the panic to finish",
            async () => (await rt.redis.exists(rt.keys.panicActive)) === 0,
            30_000,
          );
          await waitUntil("the final report", () =>
            (slack.responses.get(response) ?? []).some((r) => FINAL.test(r.body)),
          );
          slack.responses.delete(response);
          await reset(rt);
          const b = await click(
            bare.url,
            blockActionBody(ids.panicConfirm, "x", USER, slack.url(`/response/b${i}`)),
            sub,
            channel,
          );
          await reset(rt);
          if (i >= WARMUP) {
            real.push(t);
            base.push(b);
          }
        }
        const m = dist(real);
        const b = dist(base);
        say(`measured  full bot, POST → mode=halt received: ${fmtDist(m)}`);
        say(`baseline  bare Bolt app (ack + SET + PUBLISH): ${fmtDist(b)}`);
        say(
          `ratio p50 ${fmtRatio(m.p50 / b.p50)}, p99 ${fmtRatio(m.p99 / b.p99)} (${WARMUP} warm-up clicks of each excluded)`,
        );
        const row = (p: "p50" | "p99"): Row =>
          targetRow({
            id: "P1",
            bench: "panic-confirm",
            metric: `confirm click → mode=halt received, ${p}`,
            measured: fmtMs(m[p]),
            baseline: `bare Bolt app ${fmtMs(b[p])}`,
            ratio: ratioOf(m[p], b[p]),
            target: `≤ ${TARGET_RATIO}×`,
            pass: m[p] <= TARGET_RATIO * b[p],
          });
        return [row("p50"), row("p99")];
      } finally {
        for (const c of cleanups) await c();
        await slack.close();
        removeHome();
      }
    }),
};
