// mode-pubsub (report only, run when named): ModeStore.set() call start → the change received by a subscriber on the mode channel, alternating
// halt/active, interleaved sample by sample with a bare SET + PUBLISH pipeline measured the same way.
import { createKeys, type Mode } from "../src/state/keys.js";
import { ModeStore, parseModeEvent } from "../src/state/mode.js";
import { createRedis } from "../src/state/redis.js";
import { type Benchmark, dist, fmtDist, fmtInt, fmtMs, fmtRatio, type Row, ratioOf, say, withRedis } from "./lib.js";
import { bareSetPublish, TimedSubscriber } from "./pubsub.js";

const CHANGES = 2_000;
const WARMUP = 100;

export const modePubsub: Benchmark = {
  id: "",
  name: "mode-pubsub",
  description: `ModeStore.set() → subscriber receipt, p50/p99 over ${fmtInt(CHANGES)} changes`,
  run: () =>
    withRedis(async (srv) => {
      const keys = createKeys("bench:mode:");
      const redis = createRedis(srv.url, { name: "bench-mode" });
      const rawChannel = "bench:raw:mode";
      const sub = await TimedSubscriber.connect(srv.url, [keys.modeChannel, rawChannel]);
      try {
        const store = new ModeStore(redis, keys);
        const modeLat: number[] = [];
        const rawLat: number[] = [];
        for (let i = 0; i < WARMUP + CHANGES; i++) {
          const mode: Mode = i % 2 === 0 ? "halt" : "active";
          const reason = `bench ${i}`;
          const received = sub.next((ch, msg) => ch === keys.modeChannel && parseModeEvent(msg)?.reason === reason);
          const t0 = performance.now();
          const set = store.set(mode, { reason, actor: "bench" });
          const at = await received;
          const res = await set;
          if (!res.changed) throw new Error(`ModeStore.set(${mode}) did not change the mode`);
          const raw = await bareSetPublish(redis, sub, "bench:raw:key", rawChannel, `${mode}:${i}`);
          if (i >= WARMUP) {
            modeLat.push(at - t0);
            rawLat.push(raw);
          }
        }
        const m = dist(modeLat);
        const r = dist(rawLat);
        say(`measured  ModeStore.set → receipt: ${fmtDist(m)}`);
        say(`baseline  SET+PUBLISH pipeline → receipt: ${fmtDist(r)}`);
        say(
          `ratio p50 ${fmtRatio(m.p50 / r.p50)}, p99 ${fmtRatio(m.p99 / r.p99)} (${WARMUP} warm-up changes of each kind excluded)`,
        );
        const rows: Row[] = [
          {
            id: "",
            bench: "mode-pubsub",
            metric: "set → receipt p50",
            measured: fmtMs(m.p50),
            baseline: `SET+PUBLISH ${fmtMs(r.p50)}`,
            ratio: ratioOf(m.p50 / r.p50, 1),
            target: "- (report only)",
            verdict: "INFO",
          },
          {
            id: "",
            bench: "mode-pubsub",
            metric: "set → receipt p99",
            measured: fmtMs(m.p99),
            baseline: `SET+PUBLISH ${fmtMs(r.p99)}`,
            ratio: ratioOf(m.p99 / r.p99, 1),
            target: "- (report only)",
            verdict: "INFO",
          },
        ];
        return rows;
      } finally {
        sub.close();
        redis.disconnect();
      }
    }),
};
