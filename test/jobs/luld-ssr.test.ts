import { afterEach, describe, expect, it } from "vitest";
import { createGate } from "../../src/gate/index.js";
import type { Finding, FlagChange } from "../../src/jobs/guard.js";
import { type LuldSsrConfig, luldSsrGuard } from "../../src/jobs/luld-ssr.js";
import { testRuntime } from "../support/runtime.js";

const et = (s: string) => new Date(`${s}-05:00`);
const config = luldSsrGuard.config.parse({ symbols: [{ symbol: "AAPL", tier: 1 }] }) as LuldSsrConfig;
/** `md:prev_close` value: the close and the New York trading date it belongs to. */
const pc = (close: string, date: string) => JSON.stringify({ close, date });
/** The tests below run on Wed 2026-11-25: the prior close is Tuesday's. */
const PC100 = pc("100", "2026-11-24");

/** A tiny stand-in for Redis + runner: holds the hashes and zsets, applies the guard's flag changes. */
class World {
  hashes = new Map<string, Record<string, string>>();
  zsets = new Map<string, [string, number][]>();
  published: string[] = [];
  hash(k: string) {
    return this.hashes.get(k) ?? {};
  }
  trade(symbol: string, at: Date, price: string, id = `${at.getTime()}`) {
    const z = this.zsets.get(`md:trades:${symbol}`) ?? [];
    z.push([JSON.stringify({ id, price, size: 100 }), at.getTime()]);
    this.zsets.set(`md:trades:${symbol}`, z);
  }
  quote(symbol: string, at: Date, q: Record<string, string>) {
    this.hashes.set(`md:quote:${symbol}`, { ts: String(at.getTime()), ...q });
  }
  apply(actions: FlagChange[]) {
    for (const a of actions) {
      if (a.op === "hset") this.hashes.set(a.key, { ...this.hash(a.key), ...a.fields });
      else if (a.op === "hdel") {
        const h = { ...this.hash(a.key) };
        for (const f of a.fields) delete h[f];
        this.hashes.set(a.key, h);
      } else if (a.op === "publish") this.published.push(a.channel);
    }
  }
  tick(at: Date, c: LuldSsrConfig = config): Finding[] {
    const reads = luldSsrGuard.reads(c) as Record<string, { key: string; type: string }>;
    const values: Record<string, unknown> = {};
    for (const [name, r] of Object.entries(reads))
      values[name] = r.type === "zset" ? (this.zsets.get(r.key) ?? []) : this.hash(r.key);
    const findings = luldSsrGuard.evaluate({ values, probe: { at: at.getTime() } }, at, c);
    this.apply(findings.flatMap((f) => f.actions ?? []));
    return findings;
  }
}
const keyed = (fs: Finding[]) => Object.fromEntries(fs.filter((f) => f.severity !== "info").map((f) => [f.key, f]));

describe("luld_ssr guard: Limit State → Trading Pause → automatic resumption (LULD Plan VI(B), VII(A))", () => {
  it("follows the NBBO at the Lower Price Band for 15 s into a 5-minute pause, then resumes and re-bases on the reopening", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: PC100 });
    const t0 = et("2026-11-25T10:00:00");
    w.trade("AAPL", et("2026-11-25T09:30:01"), "100");
    w.quote("AAPL", t0, { bid: "99.98", ask: "100.02" });
    let f = w.tick(t0);
    expect(w.hash("luld:AAPL")).toMatchObject({
      ref: "100",
      lower: "95",
      upper: "105",
      phase: "normal",
      date: "2026-11-25",
    });
    expect(keyed(f)).toEqual({});

    const t1 = new Date(t0.getTime() + 1_000);
    w.quote("AAPL", t1, { bid: "94.9", ask: "95.00" }); // National Best Offer at the Lower Price Band
    f = w.tick(t1);
    expect(keyed(f)["luld_ssr:limit:AAPL"]).toMatchObject({ severity: "warn", sop: "sop-luld" });
    expect(w.hash("luld:AAPL")).toMatchObject({ phase: "limit", side: "down", limit_since: String(t1.getTime()) });

    const t2 = new Date(t1.getTime() + 15_000);
    w.quote("AAPL", t2, { bid: "94.9", ask: "95.00" });
    f = w.tick(t2);
    const pauseUntil = t1.getTime() + 15_000 + 300_000;
    expect(keyed(f)["luld_ssr:pause:AAPL"]).toMatchObject({ severity: "critical", sop: "sop-luld" });
    expect(JSON.parse(w.hash("luld:paused").AAPL!)).toMatchObject({
      until: new Date(pauseUntil).toISOString(),
      side: "down",
    });
    expect(w.published).toContain("flags");

    // Still paused one second before the end; resumed at the end; the next Reference Price is the reopening trade.
    w.quote("AAPL", new Date(pauseUntil - 1000), { bid: "93", ask: "93.1" });
    expect(keyed(w.tick(new Date(pauseUntil - 1000)))["luld_ssr:pause:AAPL"]).toBeDefined();
    w.trade("AAPL", new Date(pauseUntil + 500), "93.05", "reopen");
    w.quote("AAPL", new Date(pauseUntil + 1000), { bid: "93", ask: "93.1" });
    f = w.tick(new Date(pauseUntil + 1000));
    expect(keyed(f)).toEqual({});
    expect(w.hash("luld:paused")).toEqual({});
    expect(w.hash("luld:AAPL")).toMatchObject({
      phase: "normal",
      reopened_at: String(pauseUntil),
      ref: "93.05",
      lower: "88.4",
      upper: "97.7",
    });
  });

  it("a Limit State that clears within 15 s never pauses", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: PC100 });
    w.trade("AAPL", et("2026-11-25T09:31:00"), "100");
    w.quote("AAPL", et("2026-11-25T10:00:00"), { bid: "105", ask: "105.01" });
    w.tick(et("2026-11-25T10:00:00"));
    expect(w.hash("luld:AAPL").phase).toBe("limit");
    w.quote("AAPL", et("2026-11-25T10:00:14"), { bid: "104.9", ask: "105.01" });
    const f = w.tick(et("2026-11-25T10:00:14"));
    expect(w.hash("luld:AAPL").phase).toBe("normal");
    expect(keyed(f)).toEqual({});
  });

  it("the feed's pause indicator (halted=1) pauses at once; a stale quote is reported, not trusted", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: PC100 });
    w.trade("AAPL", et("2026-11-25T09:31:00"), "100");
    w.quote("AAPL", et("2026-11-25T10:00:00"), { bid: "99", ask: "99.1", halted: "1" });
    expect(keyed(w.tick(et("2026-11-25T10:00:00")))["luld_ssr:pause:AAPL"]).toBeDefined();
    const w2 = new World();
    w2.hashes.set("md:prev_close", { AAPL: PC100 });
    w2.quote("AAPL", et("2026-11-25T09:59:00"), { bid: "95", ask: "95" });
    const f = keyed(w2.tick(et("2026-11-25T10:00:00")));
    expect(Object.keys(f)).toEqual(["luld_ssr:quote_stale:AAPL"]);
  });

  it("a pause does not outlive the session (4:00 p.m.): the entry is removed after the close", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: PC100 });
    w.trade("AAPL", et("2026-11-25T15:50:00"), "100");
    w.quote("AAPL", et("2026-11-25T15:57:00"), { bid: "99", ask: "99", halted: "1" });
    w.tick(et("2026-11-25T15:57:00"));
    expect(w.hash("luld:paused").AAPL).toBeDefined();
    w.tick(et("2026-11-25T16:00:01"));
    expect(w.hash("luld:paused")).toEqual({});
  });
});

describe("luld_ssr guard: Reg SHO Rule 201", () => {
  it("a trade 10% below the prior close sets ssr:active until the end of the next trading day, once", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: PC100 });
    w.trade("AAPL", et("2026-11-25T09:30:05"), "95");
    w.trade("AAPL", et("2026-11-25T10:15:00"), "90.00");
    w.quote("AAPL", et("2026-11-25T10:16:00"), { bid: "90", ask: "90.1" });
    const f = keyed(w.tick(et("2026-11-25T10:16:00")));
    expect(f["luld_ssr:ssr:AAPL"]).toMatchObject({ severity: "warn", sop: "sop-ssr" });
    // Wednesday before Thanksgiving → the following trading day is Friday Nov 27.
    expect(JSON.parse(w.hash("ssr:active").AAPL!)).toEqual({
      triggered_at: et("2026-11-25T10:15:00").toISOString(),
      until: "2026-11-28T05:00:00.000Z",
      source: "trade",
      prev_close: "100",
      price: "90",
    });
    const published = w.published.length;
    w.tick(et("2026-11-25T10:16:05"));
    expect(w.published.length).toBe(published); // unchanged: no re-publish
    // Lifted once it ends.
    w.tick(et("2026-11-28T05:00:01"));
    expect(w.hash("ssr:active")).toEqual({});
  });

  it("a 9.99% decline does not trigger; the feed's restriction indicator does; no prior close is reported", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: PC100 });
    w.trade("AAPL", et("2026-11-25T10:00:00"), "90.01");
    w.quote("AAPL", et("2026-11-25T10:00:01"), { bid: "90", ask: "90.1", low: "90.01" });
    w.tick(et("2026-11-25T10:00:01"));
    expect(w.hash("ssr:active")).toEqual({});
    w.quote("AAPL", et("2026-11-25T10:00:02"), { bid: "90", ask: "90.1", ssr: "1" });
    w.tick(et("2026-11-25T10:00:02"));
    expect(JSON.parse(w.hash("ssr:active").AAPL!)).toMatchObject({ source: "feed" });
    const w2 = new World();
    w2.quote("AAPL", et("2026-11-25T10:00:00"), { bid: "1", ask: "1.01" });
    expect(Object.keys(keyed(w2.tick(et("2026-11-25T10:00:00"))))).toEqual(["luld_ssr:prev_close_missing:AAPL"]);
  });
});

describe("luld_ssr guard: the prior close must be the previous trading day's (md:prev_close is dated)", () => {
  const crash = (w: World) => {
    w.trade("AAPL", et("2026-11-25T09:30:05"), "95");
    w.trade("AAPL", et("2026-11-25T10:15:00"), "90.00");
    w.quote("AAPL", et("2026-11-25T10:16:00"), { bid: "90", ask: "90.1" });
    return keyed(w.tick(et("2026-11-25T10:16:00")));
  };
  it.each([
    ["a close dated two trading days back (EOD write failed)", pc("100", "2026-11-23"), "dated 2026-11-23"],
    ["a bare number (undated: not trusted)", "100", "undated"],
  ])("%s: critical prev_close_stale, no trade-based Rule 201, no prior-close bracket", (_, raw, shown) => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: raw });
    const f = crash(w);
    expect(f["luld_ssr:prev_close_stale:AAPL"]).toMatchObject({ severity: "critical", sop: "sop-ssr" });
    expect(f["luld_ssr:prev_close_stale:AAPL"]!.title).toContain(shown);
    expect(f["luld_ssr:prev_close_stale:AAPL"]!.title).toContain("expected 2026-11-24");
    expect(f["luld_ssr:prev_close_missing:AAPL"]).toBeUndefined();
    expect(w.hash("ssr:active")).toEqual({});
  });
  it("the same close dated the previous trading day triggers; unreadable JSON is reported as missing", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: pc("100", "2026-11-24") });
    expect(crash(w)["luld_ssr:ssr:AAPL"]).toBeDefined();
    const w2 = new World();
    w2.hashes.set("md:prev_close", { AAPL: '{"close":100}' });
    const f = crash(w2);
    expect(f["luld_ssr:prev_close_missing:AAPL"]).toMatchObject({ severity: "warn" });
    expect(w2.hash("ssr:active")).toEqual({});
  });
  it("after a holiday the previous trading day is before it (Fri 2026-11-27 → Wed 2026-11-25)", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: pc("100", "2026-11-25") });
    w.trade("AAPL", et("2026-11-27T09:31:00"), "89");
    w.quote("AAPL", et("2026-11-27T09:32:00"), { bid: "89", ask: "89.1" });
    const f = keyed(w.tick(et("2026-11-27T09:32:00")));
    expect(f["luld_ssr:prev_close_stale:AAPL"]).toBeUndefined();
    expect(JSON.parse(w.hash("ssr:active").AAPL!)).toMatchObject({ source: "trade", prev_close: "100" });
  });
});

describe("luld_ssr guard: the feed's SSR indicator does not extend Rule 201 (Rule 201(b)(1)(ii))", () => {
  it("Tue 2026-03-03 trigger ends 2026-03-05T05:00Z although the indicator is still on Wednesday", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: pc("100", "2026-03-02") });
    w.trade("AAPL", et("2026-03-03T10:00:00"), "89");
    w.quote("AAPL", et("2026-03-03T10:00:01"), { bid: "89", ask: "89.1", ssr: "1" });
    w.tick(et("2026-03-03T10:00:01"));
    const tue = JSON.parse(w.hash("ssr:active").AAPL!);
    expect(tue).toMatchObject({ source: "trade", until: "2026-03-05T05:00:00.000Z" });
    // Wednesday: the SIP indicator is still on (the restriction's second day); no new decline from Tuesday's close.
    w.hashes.set("md:prev_close", { AAPL: pc("89", "2026-03-03") });
    w.trade("AAPL", et("2026-03-04T10:00:00"), "88");
    w.quote("AAPL", et("2026-03-04T10:00:01"), { bid: "88", ask: "88.1", ssr: "1" });
    const wed = keyed(w.tick(et("2026-03-04T10:00:01")));
    expect(JSON.parse(w.hash("ssr:active").AAPL!)).toEqual(tue);
    expect(wed["luld_ssr:ssr:AAPL"]!.title).toContain("2026-03-05T05:00:00.000Z");
    // Thursday: over (the indicator is off).
    w.hashes.set("md:prev_close", { AAPL: pc("88", "2026-03-04") });
    w.quote("AAPL", et("2026-03-05T10:00:00"), { bid: "88", ask: "88.1" });
    w.tick(et("2026-03-05T10:00:00"));
    expect(w.hash("ssr:active")).toEqual({});
  });
  it("a restriction seen only through the indicator lasts to the end of that New York day, day by day", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: pc("100", "2026-03-02") });
    w.quote("AAPL", et("2026-03-03T10:00:00"), { bid: "99", ask: "99.1", ssr: "1" });
    w.tick(et("2026-03-03T10:00:00"));
    expect(JSON.parse(w.hash("ssr:active").AAPL!)).toMatchObject({ source: "feed", until: "2026-03-04T05:00:00.000Z" });
    w.hashes.set("md:prev_close", { AAPL: pc("99", "2026-03-03") });
    w.quote("AAPL", et("2026-03-04T10:00:00"), { bid: "99", ask: "99.1", ssr: "1" });
    w.tick(et("2026-03-04T10:00:00"));
    expect(JSON.parse(w.hash("ssr:active").AAPL!)).toMatchObject({ source: "feed", until: "2026-03-05T05:00:00.000Z" });
    w.hashes.set("md:prev_close", { AAPL: pc("99", "2026-03-04") });
    w.quote("AAPL", et("2026-03-05T10:00:00"), { bid: "99", ask: "99.1" });
    w.tick(et("2026-03-05T10:00:00"));
    expect(w.hash("ssr:active")).toEqual({});
  });
});

describe("luld_ssr guard: one symbol's unreadable data does not stop the others", () => {
  const two = luldSsrGuard.config.parse({
    symbols: [{ symbol: "AAPL", tier: 1 }, { symbol: "XYZ" }],
  }) as LuldSsrConfig;
  it("declares the per-symbol keys with schemas that accept anything (validated per symbol in evaluate)", () => {
    const reads = luldSsrGuard.reads(two) as Record<
      string,
      { schema: { safeParse(v: unknown): { success: boolean } } }
    >;
    for (const name of ["trades:XYZ", "quote:XYZ", "state:XYZ"])
      expect(reads[name]!.schema.safeParse([["x", Number.NaN]]).success).toBe(true);
  });
  it("a value of the wrong shape skips that symbol with a data_invalid finding; the others are evaluated", () => {
    const w = new World();
    w.hashes.set("md:prev_close", { AAPL: PC100, XYZ: pc("10", "2026-11-24") });
    w.trade("AAPL", et("2026-11-25T09:30:01"), "100");
    w.quote("AAPL", et("2026-11-25T10:00:00"), { bid: "99", ask: "99.1", halted: "1" });
    const reads = luldSsrGuard.reads(two) as Record<string, { key: string; type: string }>;
    const values: Record<string, unknown> = {};
    for (const [name, r] of Object.entries(reads))
      values[name] = r.type === "zset" ? (w.zsets.get(r.key) ?? []) : w.hash(r.key);
    values["quote:XYZ"] = "not a hash";
    const at = et("2026-11-25T10:00:00");
    const f = keyed(luldSsrGuard.evaluate({ values, probe: { at: at.getTime() } }, at, two));
    expect(f["luld_ssr:data_invalid:XYZ"]).toMatchObject({ severity: "warn" });
    expect(f["luld_ssr:data_invalid:XYZ"]!.detail).toContain("md:quote:XYZ");
    expect(f["luld_ssr:pause:AAPL"]).toBeDefined();
  });
});

describe("luld_ssr guard → runner → Redis → gate (end to end)", () => {
  const opened: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (opened.length) await opened.pop()!();
  });

  /** A runtime following AAPL (tier 1, one trade at 100 after the open) and XYZ, at 10:00 New York; `now` is movable. */
  async function twoSymbols() {
    const clock = { now: et("2026-11-25T10:00:00") };
    const t = await testRuntime({
      guards: [luldSsrGuard],
      now: () => clock.now,
      yaml: "guards: { luld_ssr: { symbols: [{ symbol: AAPL, tier: 1 }, { symbol: XYZ }] } }\n",
    });
    opened.push(() => t.cleanup());
    const k = (n: string) => t.rt.keys.raw(n);
    await t.rt.redis.hset(k("md:prev_close"), { AAPL: PC100, XYZ: pc("10", "2026-11-24") });
    await t.rt.redis.zadd(
      k("md:trades:AAPL"),
      String(et("2026-11-25T09:30:01").getTime()),
      JSON.stringify({ id: "1", price: "100", size: 10 }),
    );
    return { t, k, redis: t.rt.redis, clock };
  }

  it("trades and quotes written by a trading process become a pause the gate enforces", async () => {
    let now = et("2026-11-25T10:00:00");
    const t = await testRuntime({
      guards: [luldSsrGuard],
      now: () => now,
      yaml: "guards: { luld_ssr: { symbols: [{ symbol: AAPL, tier: 1 }] } }\n",
    });
    opened.push(() => t.cleanup());
    const k = (n: string) => t.rt.keys.raw(n);
    await t.rt.redis.set(k("heartbeat:bot"), String(now.getTime()));
    await t.rt.redis.hset(k("md:prev_close"), "AAPL", PC100);
    await t.rt.redis.zadd(
      k("md:trades:AAPL"),
      String(et("2026-11-25T09:30:01").getTime()),
      JSON.stringify({ id: "1", price: "100", size: 10 }),
    );
    const gate = await createGate({
      url: t.env.REDIS_URL,
      prefix: t.env.REDIS_PREFIX,
      now: () => now.getTime(),
      pollMs: 60_000,
      // This test is about LULD; account "A" has no PDT record (which the gate otherwise refuses as pdt_data_missing).
      pdtRequired: false,
    });
    opened.push(() => gate.close());
    const order = {
      broker: "alpaca",
      account: "A",
      strategy: "s",
      symbol: "AAPL",
      side: "buy" as const,
      qty: 1,
      price: 100,
    };
    expect(gate.check(order).allow).toBe(true);

    await t.rt.redis.hset(k("md:quote:AAPL"), { bid: "94.9", ask: "95", ts: String(now.getTime()) });
    await t.rt.guards.runOnce({ guard: "luld_ssr" });
    now = new Date(now.getTime() + 16_000);
    await t.rt.redis.set(k("heartbeat:bot"), String(now.getTime()));
    await t.rt.redis.hset(k("md:quote:AAPL"), { ts: String(now.getTime()) });
    const r = await t.rt.guards.runOnce({ guard: "luld_ssr" });
    expect(r.guards[0]).toMatchObject({ state: "critical" });
    await expect.poll(() => gate.check(order).reasons[0] ?? "").toMatch(/^luld_pause: AAPL/);
    await expect.poll(() => t.notifier.messages.map((m) => m.sop)).toContain("sop-luld");
  });

  it("an `inf` trade score and a garbage quote for one symbol do not stop the pause and Rule 201 of another", async () => {
    const { t, k, redis, clock } = await twoSymbols();
    // XYZ: one trade scored +inf (the runner reads it as NaN) and a quote whose prices are not numbers.
    await redis.zadd(k("md:trades:XYZ"), "+inf", JSON.stringify({ id: "x", price: "10", size: 1 }));
    await redis.hset(k("md:quote:XYZ"), { bid: "abc", ask: "?", ts: String(clock.now.getTime()) });
    // AAPL: offer at the Lower Price Band, and a day low 11% below the prior close (Rule 201).
    await redis.hset(k("md:quote:AAPL"), { bid: "94.9", ask: "95", low: "89", ts: String(clock.now.getTime()) });
    await t.rt.guards.runOnce({ guard: "luld_ssr" });
    clock.now = new Date(clock.now.getTime() + 16_000);
    await redis.hset(k("md:quote:AAPL"), { ts: String(clock.now.getTime()) });
    await redis.hset(k("md:quote:XYZ"), { ts: String(clock.now.getTime()) });
    const r = await t.rt.guards.runOnce({ guard: "luld_ssr" });
    expect(r.guards[0]).toMatchObject({ state: "critical" });
    const keys = r.findings.map((f) => f.key);
    expect(keys).toContain("luld_ssr:pause:AAPL");
    expect(keys).toContain("luld_ssr:data_invalid:XYZ");
    expect(keys).toContain("luld_ssr:trades_invalid:XYZ");
    expect(keys).not.toContain("luld_ssr:data_invalid");
    expect(JSON.parse((await redis.hget(k("luld:paused"), "AAPL"))!)).toMatchObject({ side: "down" });
    expect(JSON.parse((await redis.hget(k("ssr:active"), "AAPL"))!)).toMatchObject({
      source: "trade",
      price: "89",
      until: "2026-11-28T05:00:00.000Z",
    });
    expect(await redis.hget(k("ssr:active"), "XYZ")).toBeNull();
  });

  it("a key of the wrong Redis type for one symbol (WRONGTYPE) does not stop the pause of another", async () => {
    const { t, k, redis, clock } = await twoSymbols();
    await redis.set(k("md:quote:XYZ"), "bid=9.99 ask=10.01"); // a string where a hash belongs
    await redis.hset(k("md:quote:AAPL"), { bid: "94.9", ask: "95", ts: String(clock.now.getTime()) });
    await t.rt.guards.runOnce({ guard: "luld_ssr" });
    clock.now = new Date(clock.now.getTime() + 16_000);
    await redis.hset(k("md:quote:AAPL"), { ts: String(clock.now.getTime()) });
    const r = await t.rt.guards.runOnce({ guard: "luld_ssr" });
    const invalid = r.findings.find((f) => f.key === "luld_ssr:data_invalid:XYZ");
    expect(invalid?.detail).toMatch(/wrong type \(string\)/);
    expect(r.findings.map((f) => f.key)).toContain("luld_ssr:pause:AAPL");
    expect(r.findings.map((f) => f.key)).not.toContain("luld_ssr:data_invalid");
    expect(JSON.parse((await redis.hget(k("luld:paused"), "AAPL"))!)).toMatchObject({ side: "down" });
  });
});
