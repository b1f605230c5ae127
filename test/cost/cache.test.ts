// Cost Explorer is billed per request: the refresh writes its figures into the source's Redis keys (the cache), calls
// again only when refreshes_per_day allows, waits after a failure, never passes max_requests_per_day (counted in
// Redis, so replicas share it) — all with injected clocks against the real redis-server and the local Cost Explorer.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CostExplorer } from "../../src/cost/aws.js";
import { refreshCostExplorer } from "../../src/cost/cache.js";
import { costConfigSchema } from "../../src/cost/config.js";
import { testRedis } from "../support/redis.js";
import { type CostExplorerServer, startCostExplorerServer } from "./cost-explorer-server.js";

let srv: CostExplorerServer;
let r: ReturnType<typeof testRedis>;
const NOW = new Date("2026-12-15T14:00:00.000Z");
const H = 3_600_000;
const at = (ms: number) => new Date(NOW.getTime() + ms);

beforeAll(async () => {
  srv = await startCostExplorerServer();
});
afterAll(async () => {
  await srv.stop();
});
beforeEach(() => {
  srv.reset();
  srv.today = "2026-12-15";
  r = testRedis();
});
afterEach(async () => {
  await r.cleanup();
});

function setup(aws: Record<string, unknown> = {}, currency = "USD") {
  const c = costConfigSchema.parse({ sources: { aws: { kind: "aws", monthly_budget: "1000" } }, aws });
  const keyOf = (l: string) => `${r.prefix}${l}`;
  const explorer = new CostExplorer({
    region: "us-east-1",
    endpoint: srv.url,
    credentials: { accessKeyId: "AKIDTESTFAKE00000000", secretAccessKey: "fake" },
    requestTimeoutMs: 1_000,
    maxAttempts: 1,
  });
  const refresh = (now: Date) =>
    refreshCostExplorer(
      { redis: r.redis, keyOf, explorer },
      "aws",
      { settings: c.aws, currency },
      now,
      AbortSignal.timeout(10_000),
    );
  return { refresh, keyOf };
}

describe("Cost Explorer refresh", () => {
  it("writes the figures into the source's keys; the month-end forecast is the complete days plus AWS's rest", async () => {
    srv.days.set("2026-12-01", "20");
    srv.days.set("2026-12-14", "30.5");
    srv.days.set("2026-12-15", "7");
    srv.days.set("2026-11-03", "500");
    srv.forecast = "320.25";
    const { refresh, keyOf } = setup();
    const out = await refresh(NOW);
    expect(out).toMatchObject({ status: "refreshed", requestsToday: 3 });
    const daily = await r.redis.hgetall(keyOf("cost:daily:aws"));
    expect(daily).toMatchObject({ "2026-12-01": "20", "2026-12-14": "30.5", "2026-12-15": "7" });
    expect(await r.redis.hgetall(keyOf("cost:monthly:aws"))).toEqual({ "2026-11": "500", "2026-12": "57.5" });
    // 20 + 30.5 (days before today) + 320.25 (today to the month's end)
    expect(await r.redis.hgetall(keyOf("cost:forecast:aws"))).toEqual({ "2026-12": "370.75" });
    expect(await r.redis.get(keyOf("cost:updated:aws"))).toBe(NOW.toISOString());
    expect(JSON.parse((await r.redis.get(keyOf("cost:fetch:aws")))!)).toEqual({
      at: NOW.toISOString(),
      ok: true,
      requests: 3,
      estimated: false,
    });
    expect(await r.redis.get(keyOf("cost:requests:aws:2026-12-15"))).toBe("3");
    expect(await r.redis.pttl(keyOf("cost:requests:aws:2026-12-15"))).toBeGreaterThan(47 * H);
    if (out.status === "refreshed") expect(out.figures.forecast).toEqual({ "2026-12": "370.75" });
  });

  it("calls at most refreshes_per_day times a day: the cache answers in between (4 a day: every 6 h)", async () => {
    const { refresh } = setup();
    await refresh(NOW);
    expect((await refresh(at(6 * H - 1))).status).toBe("cached");
    expect(srv.requests).toHaveLength(3);
    expect((await refresh(at(6 * H))).status).toBe("refreshed");
    expect(srv.requests).toHaveLength(6);
  });

  it("never passes max_requests_per_day, shared by every caller through Redis", async () => {
    const { refresh, keyOf } = setup({ refreshes_per_day: 24, max_requests_per_day: 6 });
    expect((await refresh(NOW)).status).toBe("refreshed");
    expect((await refresh(at(H))).status).toBe("refreshed");
    const third = await refresh(at(2 * H));
    expect(third).toMatchObject({ status: "capped", requestsToday: 6 });
    expect(srv.requests).toHaveLength(6);
    expect(await r.redis.get(keyOf("cost:requests:aws:2026-12-15"))).toBe("6");
    // A new UTC day has its own count.
    expect((await refresh(new Date("2026-12-16T00:30:00Z"))).status).toBe("refreshed");
  });

  it("waits retry_after_failure_minutes after a failure, and keeps the last good figures", async () => {
    srv.days.set("2026-12-14", "30");
    const { refresh, keyOf } = setup();
    await refresh(NOW);
    srv.fail("GetCostAndUsage", { status: 400, type: "AccessDeniedException", message: "not allowed", times: 10 });
    const failed = await refresh(at(6 * H));
    expect(failed).toMatchObject({ status: "failed" });
    if (failed.status === "failed")
      expect(failed.error).toMatch(/GetCostAndUsage: AccessDeniedException \(HTTP 400\): not allowed/);
    expect(JSON.parse((await r.redis.get(keyOf("cost:fetch:aws")))!)).toMatchObject({
      ok: false,
      error: expect.any(String),
    });
    expect(await r.redis.hget(keyOf("cost:daily:aws"), "2026-12-14")).toBe("30");
    expect(await r.redis.get(keyOf("cost:updated:aws"))).toBe(NOW.toISOString());
    const before = srv.requests.length;
    expect((await refresh(at(6 * H + 59 * 60_000))).status).toBe("backoff");
    expect(srv.requests.length).toBe(before);
    srv.reset();
    expect((await refresh(at(7 * H))).status).toBe("refreshed");
  });

  it("refuses figures in another currency than the source's", async () => {
    const { refresh, keyOf } = setup({}, "EUR");
    const out = await refresh(NOW);
    expect(out).toMatchObject({ status: "failed", error: "Cost Explorer reports USD; the source's currency is EUR" });
    expect(await r.redis.exists(keyOf("cost:daily:aws"))).toBe(0);
  });

  it("deletes a forecast AWS can no longer make, and prunes fields older than 13 months", async () => {
    const { refresh, keyOf } = setup();
    await r.redis.hset(keyOf("cost:forecast:aws"), "2026-12", "999");
    await r.redis.hset(keyOf("cost:daily:aws"), "2025-09-30", "1", "2026-01-15", "2");
    srv.forecast = null;
    await refresh(NOW);
    expect(await r.redis.hgetall(keyOf("cost:forecast:aws"))).toEqual({});
    const days = await r.redis.hkeys(keyOf("cost:daily:aws"));
    expect(days).not.toContain("2025-09-30");
    expect(days).toContain("2026-01-15");
  });

  it("treats an unreadable fetch record as no earlier attempt and a garbage counter as the cap, and says so", async () => {
    const { refresh, keyOf } = setup();
    await r.redis.set(keyOf("cost:fetch:aws"), "{not json");
    await refresh(NOW);
    await r.redis.set(keyOf("cost:fetch:aws"), '{"at":"yesterday"}');
    const out = await refresh(at(H));
    expect(out).toMatchObject({
      status: "refreshed",
      note: "cost:fetch:aws unreadable; treated as no earlier attempt",
    });
    // A request counter that is not a count stops the calls (an uncounted call could pass the cap).
    await r.redis.del(keyOf("cost:fetch:aws"));
    await r.redis.set(keyOf("cost:requests:aws:2026-12-15"), "garbage");
    const before = srv.requests.length;
    const capped = await refresh(at(2 * H));
    expect(capped).toMatchObject({ status: "capped", requestsToday: 0 });
    if (capped.status === "capped") expect(capped.note).toMatch(/^cost:requests:aws:2026-12-15 is not a request count/);
    expect(srv.requests.length).toBe(before);
  });
});
