// feature_schema guard (issue 15 §18): a strategy whose model was trained on another feature-schema version than the
// feature store serves — or whose versions cannot be compared — is a critical finding and a strategy:blocked entry
// (source feature_schema) the gate honours; when the versions agree again the guard lifts its own block (never
// another source's). Malformed declarations, live versions and keys. Through the runner against a real Redis: the
// gate refuses and then allows again, and the runner audits the block and the lift.
import { afterEach, describe, expect, it } from "vitest";
import { parseRestrictions } from "../../packages/gate/src/gate/strategy-flags.js";
import { createGate } from "../../src/gate/index.js";
import { FEATURE_SCHEMA_SOURCE, featureSchema } from "../../src/jobs/feature-schema.js";
import { type Finding, type FlagChange, ReadFailure } from "../../src/jobs/guard.js";
import { MARKET_KEYS, STRATEGY_KEYS } from "../../src/state/keys.js";
import { type testRuntime as TestRuntime, testRuntime } from "../support/runtime.js";

const T0 = new Date("2026-11-25T16:00:00.000Z");
const cfg = featureSchema.config.parse({});
type V = Parameters<typeof featureSchema.evaluate>[0]["values"];
const decl = (version: string, feature_set = "eq_daily", model = "momo-v7") =>
  JSON.stringify({ model, feature_set, version, trained_at: "2026-11-01T00:00:00Z" });
const live = (version: string) => JSON.stringify({ version, published_at: "2026-11-20T00:00:00Z" });
const run = (v: Partial<V>, c = cfg) =>
  featureSchema.evaluate({ values: { declared: {}, live: {}, blocked: {}, ...v } }, T0, c);
const alerting = (fs: Finding[]) =>
  fs
    .filter((f) => f.severity !== "info")
    .map((f) => [f.key, f.severity])
    .sort();
const actions = (fs: Finding[]): FlagChange[] => fs.flatMap((f) => f.actions ?? []);
const blockedBy = (fs: Finding[]) => {
  const set = actions(fs).find((a): a is Extract<FlagChange, { op: "hset" }> => a.op === "hset");
  return set ? Object.fromEntries(Object.entries(set.fields).map(([s, j]) => [s, JSON.parse(j)])) : {};
};
const ours = (reason: string, since = "2026-11-25T15:00:00.000Z") =>
  JSON.stringify({ reason, source: FEATURE_SCHEMA_SOURCE, since });

describe("feature_schema: versions compared", () => {
  it("matching versions (hashes compared without regard to case): nothing", () => {
    expect(run({ declared: { momo: decl("sha256:9F2C") }, live: { eq_daily: live("sha256:9f2c") } })).toEqual([]);
  });

  it("a mismatch is critical and blocks the strategy with a reason the gate shows", () => {
    const fs = run({ declared: { momo: decl("sha256:3f2a") }, live: { eq_daily: live("sha256:9f2c") } });
    expect(alerting(fs)).toEqual([["feature_schema:mismatch:momo", "critical"]]);
    const b = blockedBy(fs).momo;
    expect(b).toEqual({
      reason:
        "feature schema mismatch: model momo-v7 of strategy momo was trained on feature set eq_daily version sha256:3f2a, the feature store serves sha256:9f2c (published 2026-11-20T00:00:00Z)",
      source: "feature_schema",
      since: T0.toISOString(),
    });
    // The format the gate reads.
    expect(parseRestrictions({ momo: JSON.stringify(b) }).get("momo")).toEqual(b);
    expect(actions(fs).at(-1)).toEqual({ op: "publish", channel: "flags", message: "strategy:blocked" });
  });

  it("keeps its block as it is while nothing changed (no write, nothing to audit); keeps `since` when the reason changes", () => {
    const first = run({ declared: { momo: decl("v1") }, live: { eq_daily: live("v2") } });
    const reason = blockedBy(first).momo.reason as string;
    const again = run({
      declared: { momo: decl("v1") },
      live: { eq_daily: live("v2") },
      blocked: { momo: ours(reason) },
    });
    expect(actions(again)).toEqual([]);
    const moved = run({
      declared: { momo: decl("v1") },
      live: { eq_daily: live("v3") },
      blocked: { momo: ours(reason) },
    });
    expect(blockedBy(moved).momo).toMatchObject({ since: "2026-11-25T15:00:00.000Z" });
    expect(blockedBy(moved).momo.reason).toMatch(/serves v3/);
  });

  it("lifts its own block when the versions agree again; never another source's", () => {
    const fs = run({
      declared: { momo: decl("v2"), arb: decl("v2") },
      live: { eq_daily: live("v2") },
      blocked: {
        momo: ours("feature schema mismatch: …"),
        arb: JSON.stringify({ reason: "manual", source: "risk_desk", since: "2026-11-25T15:00:00Z" }),
        junk: "not json",
      },
    });
    expect(alerting(fs)).toEqual([["feature_schema:blocked_entry_invalid", "warn"]]);
    expect(actions(fs)).toEqual([
      { op: "hdel", key: "strategy:blocked", fields: ["momo"] },
      { op: "publish", channel: "flags", message: "strategy:blocked" },
    ]);
    expect(fs.find((f) => f.key === "feature_schema:blocks_changed")?.detail).toBe(
      "lifted (versions agree again): momo",
    );
  });

  it("does not overwrite another source's block of the same strategy", () => {
    const other = JSON.stringify({ reason: "manual", source: "risk_desk", since: "2026-11-25T15:00:00Z" });
    const fs = run({ declared: { momo: decl("v1") }, live: { eq_daily: live("v2") }, blocked: { momo: other } });
    expect(actions(fs)).toEqual([]);
    expect(fs.map((f) => f.key)).toEqual(["feature_schema:mismatch:momo", "feature_schema:held_by_other"]);
  });
});

describe("feature_schema: what cannot be compared blocks too", () => {
  it.each([
    [{ declared: { momo: "{oops" }, live: { eq_daily: live("v1") } }, "feature_schema:declaration_invalid:momo"],
    [
      { declared: { momo: JSON.stringify({ model: "m", version: "v1" }) }, live: {} },
      "feature_schema:declaration_invalid:momo",
    ],
    [{ declared: { momo: decl("v1") }, live: {} }, "feature_schema:live_unknown:momo"],
    [{ declared: { momo: decl("v1") }, live: { eq_daily: '{"version":""}' } }, "feature_schema:live_unknown:momo"],
    [{ declared: { momo: decl("v1") }, live: { other_set: live("v1") } }, "feature_schema:live_unknown:momo"],
  ])("%o → %s", (v, key) => {
    const fs = run(v as Partial<V>);
    expect(alerting(fs)).toEqual([[key, "critical"]]);
    expect(blockedBy(fs).momo.reason).toMatch(/^feature schema (unknown|mismatch)/);
  });

  it("a required strategy that declares nothing is blocked", () => {
    const c = featureSchema.config.parse({ require: ["momo", "arb"] });
    const fs = run({ declared: { arb: decl("v1") }, live: { eq_daily: live("v1") } }, c);
    expect(alerting(fs)).toEqual([["feature_schema:undeclared:momo", "critical"]]);
    expect(Object.keys(blockedBy(fs))).toEqual(["momo"]);
  });

  it("the feature store's key unreadable: every declaring strategy is blocked", () => {
    const fs = run({
      declared: { momo: decl("v1"), arb: decl("v1") },
      live: new ReadFailure(STRATEGY_KEYS.featureStoreSchema, "wrong type (string)"),
    });
    expect(alerting(fs)).toEqual([
      ["feature_schema:live_unknown:arb", "critical"],
      ["feature_schema:live_unknown:momo", "critical"],
      ["feature_schema:store_unreadable", "critical"],
    ]);
    expect(Object.keys(blockedBy(fs)).sort()).toEqual(["arb", "momo"]);
  });

  it("the declarations unreadable: nothing is lifted, required strategies are blocked", () => {
    const c = featureSchema.config.parse({ require: ["req"] });
    const fs = run(
      {
        declared: new ReadFailure(STRATEGY_KEYS.modelFeatureSchema, "wrong type (list)"),
        live: { eq_daily: live("v1") },
        blocked: { momo: ours("feature schema mismatch: …") },
      },
      c,
    );
    expect(alerting(fs)).toEqual([
      ["feature_schema:declarations_unreadable", "critical"],
      ["feature_schema:undeclared:req", "critical"],
    ]);
    expect(actions(fs).map((a) => a.op)).toEqual(["hset", "publish"]);
  });

  it("strategy:blocked of the wrong type: critical, and no write the runner could not apply", () => {
    const fs = run({
      declared: { momo: decl("v1") },
      live: { eq_daily: live("v2") },
      blocked: new ReadFailure(MARKET_KEYS.strategyBlocked, "wrong type (string)"),
    });
    expect(alerting(fs)).toContainEqual(["feature_schema:blocked_unreadable", "critical"]);
    expect(actions(fs)).toEqual([]);
  });

  it("config: require is a list of strategy names; nothing else", () => {
    expect(featureSchema.config.safeParse({ require: ["ok", "bad name"] }).success).toBe(false);
    expect(featureSchema.config.safeParse({ strict: true }).success).toBe(false);
  });
});

describe("feature_schema through the runner (real Redis)", () => {
  let t: Awaited<ReturnType<typeof TestRuntime>> | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("blocks on a mismatch (the gate refuses opening orders), lifts when the versions agree, audited both ways", async () => {
    const now = Date.parse("2026-11-25T11:00:00-05:00");
    t = await testRuntime({
      yaml: "guards:\n  feature_schema: { enabled: true }\n",
      guards: [featureSchema],
      now: () => new Date(now),
    });
    const { rt } = t;
    const raw = (n: string) => rt.keys.raw(n);
    await rt.redis.set(raw("heartbeat:bot"), String(now));
    await rt.redis.hset(raw(STRATEGY_KEYS.modelFeatureSchema), "momo", decl("sha256:3f2a"));
    await rt.redis.hset(raw(STRATEGY_KEYS.featureStoreSchema), "eq_daily", live("sha256:9f2c"));
    const gate = await createGate({ redis: rt.redis, prefix: rt.keys.prefix, now: () => now, pdtRequired: false });
    try {
      const order = {
        broker: "paper",
        account: "A",
        strategy: "momo",
        symbol: "AAPL",
        side: "buy" as const,
        qty: 1,
        price: 10,
      };
      expect(gate.check(order).allow).toBe(true);

      const r = await rt.guards.runOnce({ guard: "feature_schema" });
      expect(r.guards[0]?.state).toBe("critical");
      await expect
        .poll(() => gate.check(order).reasons[0] ?? "", { timeout: 5_000, interval: 5 })
        .toMatch(/^strategy_blocked: feature schema mismatch: model momo-v7 /);
      expect(gate.check({ ...order, side: "sell", reduceOnly: true }).allow).toBe(true);
      await rt.guards.runOnce({ guard: "feature_schema" }); // unchanged: no second write

      await rt.redis.hset(raw(STRATEGY_KEYS.modelFeatureSchema), "momo", decl("sha256:9F2C", "eq_daily", "momo-v8"));
      const healed = await rt.guards.runOnce({ guard: "feature_schema" });
      expect(healed.guards[0]?.state).toBe("ok");
      expect(await rt.redis.hgetall(raw(MARKET_KEYS.strategyBlocked))).toEqual({});
      await expect.poll(() => gate.check(order).allow, { timeout: 5_000, interval: 5 }).toBe(true);
      expect(await rt.alerts.open()).toEqual([]);

      const audit = (await rt.redis.xrange(rt.keys.auditLog, "-", "+")).map((e) => JSON.parse(e[1][1]!));
      const changes = audit.filter((e) => e.action === "flag.changed" && e.details.key === "strategy:blocked");
      expect(changes.map((e) => [e.actor, e.details.op])).toEqual([
        ["guard:feature_schema", "hset"],
        ["guard:feature_schema", "hdel"],
      ]);
    } finally {
      await gate.close();
    }
  });
});
