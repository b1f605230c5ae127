// Equities cutover end to end over live state in a real Redis: the checklist's gates (pass, fail, unknown — never a
// pass without data), `enable` refused unless every gate passes, two approvals from people other than the requester
// with the gates checked again at each, the flag the gate honours written and published by the last one, disable.
import { afterEach, describe, expect, it } from "vitest";
import { NotAuthorizedError, UserInputError } from "../../src/errors.js";
import { recordSloEvents } from "../../src/jobs/error-budget-math.js";
import { timeSync } from "../../src/jobs/time-sync.js";
import { CutoverRefusedError } from "../../src/ops/cutover.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

/** Tuesday 10:00 New York: the last closed trading day is Monday 2026-11-30; one day behind allows Friday 11-27. */
const NOW = new Date("2026-12-01T15:00:00.000Z");
const ROLES = "roles: { clear: [UREQ], approve: [UREQ, UAPP, UAPP2], panic: ['*'] }\n";
const SLO =
  "guards:\n  time_sync: { servers: ['127.0.0.1:1'] }\n  error_budget:\n    slos: [{ name: fills, target: 99, period_days: 30 }]\n";

async function desk(opts: { cutover?: string; now?: () => Date } = {}) {
  const t = await testRuntime({
    yaml: `${ROLES}${SLO}cutover:\n  approvals: 2\n  gates: { key_rotation: false${opts.cutover ?? ""} }\n`,
    guards: [timeSync],
    now: opts.now ?? (() => NOW),
  });
  opened.push(t);
  return t;
}

/** Live state on which every gate passes. */
async function ready(t: T) {
  const r = t.rt.redis;
  const k = t.rt.keys;
  await r.lpush(
    k.reconLast,
    JSON.stringify({
      date: "2026-11-30",
      broker: "paper",
      ok: true,
      mismatches: 0,
      errors: 0,
      at: "2026-11-30T22:31:00.000Z",
    }),
  );
  await r.set(k.raw("dr:last_success"), JSON.stringify({ ts: "2026-11-20T15:00:00.000Z", ok: true, keys: 7, ms: 0.9 }));
  await r.set(
    k.raw("dr:last_rehearsal"),
    JSON.stringify({ ts: "2026-11-20T15:00:00.000Z", ok: true, keys: 7, ms: 0.9 }),
  );
  await r.hset(
    k.guardsState,
    "time_sync",
    JSON.stringify({
      name: "time_sync",
      state: "ok",
      detail: "ok",
      lastRun: "2026-12-01T14:59:00.000Z",
      durationMs: 3,
    }),
  );
  await setQuota(t, 100);
  // 1 bad of 1,000 at 99%: 90% of the budget left.
  await recordSloEvents(r, k.prefix, "fills", { good: 999, total: 1_000, atMs: NOW.getTime() - 3_600_000 });
}
async function setQuota(t: T, used: number) {
  const r = t.rt.redis;
  const k = t.rt.keys;
  await r.sadd(k.raw("quota:exchanges"), "binance");
  await r.set(k.raw("quota:binance:limit"), "1000");
  await r.del(k.raw("quota:binance:used"));
  await r.hset(k.raw("quota:binance:used"), String(Math.floor(NOW.getTime() / 60_000)), String(used));
}
const verdicts = async (t: T) =>
  Object.fromEntries((await t.rt.ops.cutover.check()).gates.map((g) => [g.gate, g.verdict]));
const audits = async (t: T) =>
  (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+"))
    .map((e) => JSON.parse(e[1][1]!))
    .filter((e) => e.action.startsWith("cutover."));

describe("configuration", () => {
  it("every gate on by default; a bad value is named by its key", async () => {
    const { yamlSchema } = await import("../../src/config-schema.js");
    expect(yamlSchema.parse({}).cutover).toEqual({
      assetClasses: ["equities"],
      approvals: 1,
      requestTtlMinutes: 60,
      gates: {
        recon: { maxTradingDaysBehind: 1 },
        dr_rehearsal: { maxAgeDays: 35 },
        time_sync: {},
        quotas: { maxUsedPct: 80 },
        error_budgets: { minLeftPct: 0 },
        alerts: {},
        key_rotation: {},
      },
    });
    const bad = (cutover: unknown) => yamlSchema.safeParse({ cutover }).error?.issues.map((i) => i.path.join("."));
    expect(bad({ gates: { quotas: { max_used_pct: 0 } } })).toEqual(["cutover.gates.quotas.max_used_pct"]);
    expect(bad({ gates: { recon: true } })).toEqual(["cutover.gates.recon"]);
    expect(bad({ asset_classes: ["Equities"] })).toEqual(["cutover.asset_classes.0"]);
    expect(bad({ asset_classes: ["pending"] })).toEqual(["cutover.asset_classes.0"]);
  });
});

describe("the checklist", () => {
  it("with no data every gate is unknown (or off), never passed; no alert open is a pass", async () => {
    const t = await desk();
    const c = await t.rt.ops.cutover.check();
    expect(c.ok).toBe(false);
    expect(Object.fromEntries(c.gates.map((g) => [g.gate, g.verdict]))).toEqual({
      recon: "unknown",
      dr_rehearsal: "unknown",
      time_sync: "unknown",
      quotas: "unknown",
      error_budgets: "unknown",
      alerts: "pass",
      key_rotation: "off",
    });
    expect(c.gates.find((g) => g.gate === "dr_rehearsal")!.evidence).toMatch(/no DR rehearsal recorded/);
    expect(c.assetClasses).toEqual([
      { assetClass: "equities", enabled: false, flag: null, invalid: null, pending: null },
    ]);
  });

  it("every gate passes on healthy live state, each with its evidence", async () => {
    const t = await desk();
    await ready(t);
    const c = await t.rt.ops.cutover.check();
    expect(c.ok).toBe(true);
    const ev = Object.fromEntries(c.gates.map((g) => [g.gate, g.evidence]));
    expect(ev.recon).toBe("paper 2026-11-30 ok; a trade date on or after 2026-11-27 is needed");
    expect(ev.dr_rehearsal).toMatch(
      /^last successful rehearsal 2026-11-20T15:00:00.000Z \(11\.0 d ago, 7 keys in 0\.9 ms\); limit 35 d$/,
    );
    expect(ev.quotas).toBe("binance 10.0% (100/1000); limit < 80%");
    expect(ev.error_budgets).toBe("fills: 90.0% left; more than 0% of each budget must be left");
    expect(ev.time_sync).toBe("time_sync ok at 2026-12-01T14:59:00.000Z");
  });

  it("recon: a trade date one trading day behind passes, two fail; a mismatch fails", async () => {
    const t = await desk();
    const push = (date: string, ok = true) =>
      t.rt.redis.lpush(
        t.rt.keys.reconLast,
        JSON.stringify({ date, broker: "paper", ok, mismatches: ok ? 0 : 2, errors: 0, at: "x" }),
      );
    await push("2026-11-27");
    expect((await verdicts(t)).recon).toBe("pass");
    await push("2026-11-25"); // Wednesday before Thanksgiving: two trading days behind Monday
    expect((await verdicts(t)).recon).toBe("fail");
    await push("2026-11-30", false);
    const c = await t.rt.ops.cutover.check();
    expect(c.gates[0]).toMatchObject({
      verdict: "fail",
      evidence: expect.stringContaining("paper 2026-11-30 2 mismatch(es)"),
    });
  });

  it("dr_rehearsal: 35 days old passes, just older fails, a later failed rehearsal fails", async () => {
    const t = await desk();
    const set = (key: string, ts: string, ok = true) =>
      t.rt.redis.set(t.rt.keys.raw(key), JSON.stringify({ ts, ok, keys: 7, ms: 1 }));
    await set("dr:last_success", "2026-10-27T15:00:00.000Z"); // exactly 35 days before NOW
    expect((await verdicts(t)).dr_rehearsal).toBe("pass");
    await set("dr:last_success", "2026-10-27T14:59:59.999Z");
    expect((await verdicts(t)).dr_rehearsal).toBe("fail");
    await set("dr:last_success", "2026-11-30T15:00:00.000Z");
    await set("dr:last_rehearsal", "2026-12-01T14:00:00.000Z", false);
    expect((await verdicts(t)).dr_rehearsal).toBe("fail");
    await t.rt.redis.set(t.rt.keys.raw("dr:last_rehearsal"), "garbage");
    expect((await verdicts(t)).dr_rehearsal).toBe("unknown");
  });

  it("quotas: strictly under 80% — 799/1000 passes, 800 fails; no limit recorded is unknown", async () => {
    const t = await desk();
    await setQuota(t, 799);
    expect((await verdicts(t)).quotas).toBe("pass");
    await setQuota(t, 800);
    expect((await verdicts(t)).quotas).toBe("fail");
    await t.rt.redis.del(t.rt.keys.raw("quota:binance:limit"));
    expect((await verdicts(t)).quotas).toBe("unknown");
  });

  it("error_budgets: more than min_left_pct left — exactly 50% fails, just above passes; spent fails", async () => {
    const t = await desk({ cutover: ", error_budgets: { min_left_pct: 50 }" });
    const at = NOW.getTime() - 3_600_000;
    // 99%: 2,000 events allow 20 bad; 10 bad leaves exactly 50%.
    await recordSloEvents(t.rt.redis, t.rt.keys.prefix, "fills", { good: 1_990, total: 2_000, atMs: at });
    expect((await verdicts(t)).error_budgets).toBe("fail");
    await recordSloEvents(t.rt.redis, t.rt.keys.prefix, "fills", { good: 1, total: 1, atMs: at });
    expect((await verdicts(t)).error_budgets).toBe("pass");
    await recordSloEvents(t.rt.redis, t.rt.keys.prefix, "fills", { good: 0, total: 20, atMs: at });
    expect((await t.rt.ops.cutover.check()).gates.find((g) => g.gate === "error_budgets")!.evidence).toMatch(
      /fills: spent/,
    );
  });

  it("time_sync: a warning fails; a stale record is unknown", async () => {
    const t = await desk();
    const rec = (state: string, lastRun: string) =>
      t.rt.redis.hset(
        t.rt.keys.guardsState,
        "time_sync",
        JSON.stringify({ name: "time_sync", state, detail: "x", lastRun, durationMs: 1 }),
      );
    await rec("warn", "2026-12-01T14:59:00.000Z");
    expect((await verdicts(t)).time_sync).toBe("fail");
    await rec("ok", "2026-12-01T14:00:00.000Z");
    expect((await verdicts(t)).time_sync).toBe("unknown");
  });
});

describe("key_rotation gate", () => {
  it("no managed key is unknown; a key exactly rotation.max_age_days old passes, a day older fails", async () => {
    const off =
      "recon: false, dr_rehearsal: false, time_sync: false, quotas: false, error_budgets: false, alerts: false";
    const plain = await testRuntime({ yaml: `cutover: { gates: { ${off} } }\n` });
    opened.push(plain);
    expect((await plain.rt.ops.cutover.check()).gates.filter((g) => g.verdict !== "off")).toEqual([
      { gate: "key_rotation", verdict: "unknown", evidence: "no managed broker keys (secret: in a broker's config)" },
    ]);
    // The local secret store stamps keys with the real clock; the runtime's clock is moved relative to it.
    const staged = Date.now();
    let now = new Date(staged + 7 * 86_400_000 + 3_600_000);
    const t = await testRuntime({
      yaml: `cutover: { gates: { ${off} } }\nrotation: { max_age_days: 7 }\nbrokers:\n  - { name: alpaca-live, kind: alpaca, base_url: "http://127.0.0.1:1", secret: alpaca-live }\n`,
      now: () => now,
    });
    opened.push(t);
    const gate = async () => (await t.rt.ops.cutover.check()).gates.find((g) => g.gate === "key_rotation")!;
    expect(await gate()).toMatchObject({ verdict: "fail", evidence: "alpaca-live: no CURRENT key; limit 7 d" });
    await t.rt.ops.secrets.stage("cli:ops", "alpaca-live", { keyId: "PKKEY0001", secret: "0123456789abcdef" });
    expect(await gate()).toMatchObject({ verdict: "pass", evidence: "alpaca-live PKKEY0001 7 d; limit 7 d" });
    expect((await t.rt.ops.cutover.check()).ok).toBe(true);
    now = new Date(staged + 8 * 86_400_000 + 3_600_000);
    expect(await gate()).toMatchObject({ verdict: "fail", evidence: "alpaca-live PKKEY0001 8 d; limit 7 d" });
  });
});

describe("enable → approve → enabled → disable", () => {
  it("refused while a gate does not pass, then two approvals by others enable equities; disable removes it", async () => {
    const t = await desk();
    // Refused with nothing recorded: audited, no request opened.
    const refused = await t.rt.ops.cutover.enable("UREQ", "equities", "go live").catch((e) => e);
    expect(refused).toBeInstanceOf(CutoverRefusedError);
    expect(refused.userMessage).toMatch(/^Refused: recon unknown \(no recon recorded\); dr_rehearsal unknown/);
    expect(await t.rt.redis.get(t.rt.keys.cutoverPending("equities"))).toBeNull();

    await ready(t);
    await expect(t.rt.ops.cutover.enable("UAPP", "equities", "x")).rejects.toBeInstanceOf(NotAuthorizedError);
    await expect(t.rt.ops.cutover.enable("UREQ", "crypto", "x")).rejects.toThrow(/unknown asset class crypto/);
    const { request } = await t.rt.ops.cutover.enable("UREQ", "equities", "go live");
    expect(request).toMatchObject({
      id: expect.stringMatching(/^g\d{8}T\d{6}Z-[0-9a-f]{6}$/),
      needed: 2,
      state: "pending_approval",
    });
    await expect(t.rt.ops.cutover.enable("UREQ", "equities", "again")).rejects.toThrow(/already waiting/);
    await expect(t.rt.ops.cutover.approve("UREQ", request.id)).rejects.toThrow(/someone else/);

    const sub = t.rt.redis.duplicate();
    const published: string[] = [];
    sub.on("message", (_c, m) => published.push(m));
    await sub.subscribe(t.rt.keys.raw("flags"));

    expect((await t.rt.ops.cutover.approve("UAPP", request.id)).outcome).toBe("recorded");
    await expect(t.rt.ops.cutover.approve("UAPP", request.id)).rejects.toBeInstanceOf(UserInputError);
    // A critical alert opens before the last approval: the gates are checked again and refuse it.
    await t.rt.alerts.raise(
      "test",
      { guard: "test", key: "boom", severity: "critical", title: "boom", detail: "d", sop: "sop-panic" },
      NOW,
    );
    await expect(t.rt.ops.cutover.approve("UAPP2", request.id)).rejects.toThrow(
      /alerts fail \(1 critical alert\(s\) open: boom/,
    );
    expect(await t.rt.redis.get(t.rt.keys.raw("cutover:equities"))).toBeNull();
    await t.rt.alerts.resolve("test", "boom", NOW);

    const done = await t.rt.ops.cutover.approve("UAPP2", request.id);
    expect(done.outcome).toBe("enabled");
    expect(done.request).toMatchObject({ state: "approved", approvals: ["UAPP", "UAPP2"], decidedBy: "UAPP2" });
    expect(JSON.parse((await t.rt.redis.get(t.rt.keys.raw("cutover:equities")))!)).toEqual({
      enabled: true,
      request_id: request.id,
      approved_by: "UAPP2",
      at: NOW.toISOString(),
    });
    expect((await t.rt.ops.cutover.check()).assetClasses[0]).toMatchObject({ enabled: true, pending: null });
    await expect(t.rt.ops.cutover.enable("UREQ", "equities", "again")).rejects.toThrow(/already enabled/);

    await expect(t.rt.ops.cutover.disable("UREQ", "equities", "")).rejects.toThrow(/Say why/);
    await t.rt.ops.cutover.disable("UREQ", "equities", "rollback drill");
    expect(await t.rt.redis.get(t.rt.keys.raw("cutover:equities"))).toBeNull();
    await expect(t.rt.ops.cutover.disable("UREQ", "equities", "again")).rejects.toThrow(/not enabled/);
    await new Promise((r) => setTimeout(r, 50));
    expect(published).toEqual(["cutover", "cutover"]);
    sub.disconnect();

    expect((await audits(t)).map((e) => [e.action, e.actor])).toEqual([
      ["cutover.refused", "UREQ"],
      ["cutover.requested", "UREQ"],
      ["cutover.denied", "UREQ"],
      ["cutover.approval", "UAPP"],
      ["cutover.approve_refused", "UAPP2"],
      ["cutover.enabled", "UAPP2"],
      ["cutover.disabled", "UREQ"],
    ]);
  });

  it("the requester may withdraw; a rejected request cannot be approved", async () => {
    const t = await desk();
    await ready(t);
    const { request } = await t.rt.ops.cutover.enable("UREQ", "equities", "go");
    expect((await t.rt.ops.cutover.reject("UREQ", request.id)).state).toBe("rejected");
    await expect(t.rt.ops.cutover.approve("UAPP", request.id)).rejects.toThrow(/is rejected; nothing to approve/);
    await expect(t.rt.ops.cutover.reject("UAPP", request.id)).rejects.toThrow(/already rejected/);
    expect(await t.rt.redis.get(t.rt.keys.cutoverPending("equities"))).toBeNull();
  });
});
