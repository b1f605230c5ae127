import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BUCKET_MS } from "../../packages/gate/src/ratelimit/usage.js";
import { registerQuota } from "../../src/cli/quota.js";
import { apiQuota } from "../../src/jobs/api-quota.js";
import type { Finding } from "../../src/jobs/guard.js";
import { createRateLimiter } from "../../src/ratelimit/index.js";
import { testRedis } from "../support/redis.js";
import { type testRuntime as TestRuntime, testRuntime } from "../support/runtime.js";

const NOW = Date.parse("2026-11-25T15:07:30.000Z");
const cur = Math.floor(NOW / BUCKET_MS);
const cfg = apiQuota.config.parse({ exchanges: ["binance"] });

/** Snapshot values for one exchange: `used` spread over the window, a stored limit, 429s and reconnect times. */
const vals = (
  o: {
    used?: Record<string, string>;
    limit?: string | null;
    r429?: Record<string, string>;
    ws?: [string, unknown][];
  } = {},
  ex = "binance",
) => ({
  [`used:${ex}`]: o.used ?? {},
  [`limit:${ex}`]: o.limit === undefined ? "1000" : o.limit,
  [`r429:${ex}`]: o.r429 ?? {},
  [`ws:${ex}`]: o.ws ?? [],
});
const usedOf = (n: number) => ({ [cur - 10]: String(Math.floor(n / 2)), [cur]: String(n - Math.floor(n / 2)) });
const run = (v: Record<string, unknown>, c = cfg): Finding[] =>
  apiQuota.evaluate({ values: v, probe: { at: NOW } }, new Date(NOW), c);
const keys = (fs: Finding[]) => fs.map((f) => [f.key, f.severity]);
const reconnects = (n: number, ageMs = 60_000): [string, unknown][] =>
  Array.from({ length: n }, (_, i) => [`r${i}`, NOW - ageMs - i]);

describe("api_quota thresholds (80% warn, 90% critical of the 15-minute quota)", () => {
  it("is quiet at exactly 80%", () => expect(run(vals({ used: usedOf(800) }))).toEqual([]));
  it("warns just above 80%", () => {
    const fs = run(vals({ used: usedOf(801) }));
    expect(keys(fs)).toEqual([["api_quota:binance:quota", "warn"]]);
    expect(fs[0]).toMatchObject({ sop: "sop-api-quota", value: "80.1% (801/1000)", threshold: "80.0%" });
  });
  it("is a warning at exactly 90% and critical just above", () => {
    expect(keys(run(vals({ used: usedOf(900) })))).toEqual([["api_quota:binance:quota", "warn"]]);
    const fs = run(vals({ used: usedOf(901) }));
    expect(keys(fs)).toEqual([["api_quota:binance:quota", "critical"]]);
    expect(fs[0]!.threshold).toBe("90.0%");
  });
  it("ignores weight older than the window", () => {
    expect(run(vals({ used: { [cur - 15]: "5000", [cur]: "100" } }))).toEqual([]);
  });
  it("mentions the 429s of the window", () => {
    expect(run(vals({ used: usedOf(950), r429: { [cur]: "7" } }))[0]!.detail).toContain("7 HTTP 429");
  });
  it("prefers a configured limit over the limiter's", () => {
    const c = apiQuota.config.parse({ exchanges: { binance: { limit_15m: 2000 } } });
    expect(run(vals({ used: usedOf(1500) }), c)).toEqual([]);
    expect(keys(run(vals({ used: usedOf(1700) }), c))).toEqual([["api_quota:binance:quota", "warn"]]);
  });
  it("uses configured ratios", () => {
    const c = apiQuota.config.parse({ exchanges: ["binance"], warn_ratio: 0.5, critical_ratio: 0.6 });
    expect(keys(run(vals({ used: usedOf(601) }), c))).toEqual([["api_quota:binance:quota", "critical"]]);
  });
});

describe("api_quota WebSocket reconnects (more than 3 per hour)", () => {
  it("is quiet at 3 and warns at 4", () => {
    expect(run(vals({ ws: reconnects(3) }))).toEqual([]);
    const fs = run(vals({ ws: reconnects(4) }));
    expect(keys(fs)).toEqual([["api_quota:binance:ws_reconnects", "warn"]]);
    expect(fs[0]).toMatchObject({ value: "4/h", threshold: "3/h" });
  });
  it("does not count reconnects an hour old", () => {
    expect(run(vals({ ws: [...reconnects(3), ["old", NOW - 3_600_000]] }))).toEqual([]);
  });
});

describe("api_quota malformed Redis values", () => {
  it("reports unreadable counters and still judges the readable ones", () => {
    const fs = run(
      vals({ used: { ...usedOf(950), junk: "x", [cur - 1]: "lots" }, ws: [...reconnects(4), ["bad", Number.NaN]] }),
    );
    expect(keys(fs)).toEqual([
      ["api_quota:binance:data_invalid", "warn"],
      ["api_quota:binance:quota", "critical"],
      ["api_quota:binance:ws_reconnects", "warn"],
    ]);
    expect(fs[0]!.detail).toContain('junk="x"');
    expect(fs[0]!.detail).toContain("1 non-numeric score");
  });
  it("treats an unreadable limit as unknown and says so when traffic flows", () => {
    expect(keys(run(vals({ used: usedOf(10), limit: "a lot" })))).toEqual([
      ["api_quota:binance:data_invalid", "warn"],
      ["api_quota:binance:limit_unknown", "warn"],
    ]);
    expect(run(vals({ limit: null }))).toEqual([]);
  });
  it("declares hash, string and zset reads whose schemas accept what Redis returns", () => {
    const reads = apiQuota.reads(cfg);
    expect(Object.fromEntries(Object.entries(reads).map(([n, r]) => [n, [r.key, r.type]]))).toEqual({
      "used:binance": ["quota:binance:used", "hash"],
      "limit:binance": ["quota:binance:limit", "string"],
      "r429:binance": ["quota:binance:429", "hash"],
      "ws:binance": ["ws:binance:reconnects", "zset"],
    });
    expect(reads["ws:binance"]!.schema.safeParse([["a", Number.NaN]]).success).toBe(true);
  });
});

describe("api_quota config and metrics", () => {
  it("takes a list or a mapping of exchanges, with the issue's defaults", () => {
    expect(cfg).toMatchObject({
      exchanges: { binance: {} },
      warn_ratio: 0.8,
      critical_ratio: 0.9,
      ws_reconnects_per_hour: 3,
    });
    expect(apiQuota.config.parse({ exchanges: { bybit: null, okx: { limit_15m: 5 } } }).exchanges).toEqual({
      bybit: {},
      okx: { limit_15m: 5 },
    });
    expect(apiQuota.config.parse({}).exchanges).toEqual({});
    expect(apiQuota.config.safeParse({ enabled: true, schedule: "*/30 * * * * *", timeout_ms: 1000 }).success).toBe(
      true,
    );
  });
  it.each([
    { exchanges: ["Binance"] },
    { warn_ratio: 0.9, critical_ratio: 0.9 },
    { exchanges: { okx: { limit: 5 } } },
    { ws_reconnects: 3 },
  ])("rejects %j", (c) => {
    expect(apiQuota.config.safeParse(c).success).toBe(false);
  });
  it("exports ratio, usage, limit, 429s and reconnects per exchange", () => {
    const m = apiQuota.measure!(
      { values: vals({ used: usedOf(450), r429: { [cur]: "2" }, ws: reconnects(1) }), probe: { at: NOW } },
      cfg,
    );
    expect(Object.fromEntries(m.map((x) => [x.name, x.value]))).toEqual({
      tradeguard_quota_usage_ratio: 0.45,
      tradeguard_quota_used_15m: 450,
      tradeguard_quota_limit_15m: 1000,
      tradeguard_quota_throttled_15m: 2,
      tradeguard_ws_reconnects_last_hour: 1,
    });
    expect(m.every((x) => x.labels?.exchange === "binance")).toBe(true);
  });
});

describe("api_quota through the runner, fed by the real limiter (real Redis)", () => {
  let t: Awaited<ReturnType<typeof TestRuntime>> | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("goes warn, then critical, as the trading processes use the quota", async () => {
    t = await testRuntime({
      yaml: "guards:\n  api_quota:\n    exchanges: [binance]\n",
      guards: [apiQuota],
      now: () => new Date(NOW),
    });
    const { rt } = t;
    // The limiter's clock moves 200 ms per request: the 100-unit bucket (1 unit/ms) refills in between.
    let at = NOW;
    const limiter = createRateLimiter(rt.redis, {
      prefix: rt.keys.prefix,
      limits: { "binance:orders": { rate: 1000, per: 1000, burst: 100 } },
      quotas: { binance: 1000 },
      clock: () => at,
    });
    const spend = async (n: number) => {
      for (let i = 0; i < n; i++) {
        at += 200;
        expect((await limiter.acquire("binance:orders", 100)).allowed).toBe(true);
      }
    };
    await spend(1);
    expect((await limiter.acquire("binance:orders", 100)).allowed).toBe(false); // refused: not counted
    await spend(7); // 800 in total: exactly 80%
    expect((await rt.guards.runOnce({ guard: "api_quota" })).guards[0]?.state).toBe("ok");
    await spend(1); // 900: warn
    const warn = await rt.guards.runOnce({ guard: "api_quota" });
    expect(warn.findings.map((f) => [f.key, f.severity])).toEqual([["api_quota:binance:quota", "warn"]]);
    await limiter.record429("binance:orders", "0.1"); // not delta-seconds: ignored, the jitter draw (< 500 ms) applies
    at += 500;
    await spend(1); // 1000: critical
    const crit = await rt.guards.runOnce({ guard: "api_quota" });
    expect(crit.findings.map((f) => [f.key, f.severity])).toEqual([["api_quota:binance:quota", "critical"]]);
    expect(crit.findings[0]!.detail).toContain("1 HTTP 429");
    const ratio = await rt.metrics.registry.getSingleMetric("tradeguard_quota_usage_ratio")!.get();
    expect(ratio.values).toEqual([{ labels: { exchange: "binance" }, value: 1 }]);
    const alerts = await rt.redis.lrange(rt.keys.raw("alerts:api_quota"), 0, -1);
    expect(alerts.map((a) => JSON.parse(a).type)).toEqual(["escalated", "opened"]);
  });
});

describe("tradeguard quota --json", () => {
  let r: ReturnType<typeof testRedis> | undefined;
  const saved = { ...process.env };
  afterEach(async () => {
    process.env = { ...saved };
    vi.restoreAllMocks();
    await r?.cleanup();
  });

  it("prints per-exchange usage from the limiter's counters", async () => {
    r = testRedis();
    const now = Date.now();
    const l = createRateLimiter(r.redis, {
      prefix: r.prefix,
      limits: { "binance:orders": { rate: 100, per: 1000 }, "kraken:book": { rate: 10, per: 1000 } },
      quotas: { binance: 1200 },
      clock: () => now,
    });
    await l.acquire("binance:orders", 60);
    await l.acquire("kraken:book", 4);
    await l.record429("binance:orders", "1");
    for (let i = 0; i < 5; i++) await l.recordReconnect("kraken");

    const home = mkdtempSync(join(tmpdir(), "tg-quota-"));
    process.env = {
      PATH: saved.PATH,
      HOME: saved.HOME,
      TRADEGUARD_HOME: home,
      REDIS_URL: r.url,
      REDIS_PREFIX: r.prefix,
      LOG_LEVEL: "silent",
    };
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
    const program = new Command("tradeguard").exitOverride();
    registerQuota(program);
    await program.parseAsync(["node", "tradeguard", "quota", "--json"]);
    vi.restoreAllMocks();
    expect(JSON.parse(out)).toEqual({
      exchanges: [
        {
          exchange: "binance",
          used: 60,
          limit: 1200,
          pct: 0.05,
          window: "15m",
          throttled429: 1,
          wsReconnectsLastHour: 0,
        },
        {
          exchange: "kraken",
          used: 4,
          limit: null,
          pct: null,
          window: "15m",
          throttled429: 0,
          wsReconnectsLastHour: 5,
        },
      ],
    });
  });
});
