import { afterEach, describe, expect, it } from "vitest";
import type { Finding } from "../../src/jobs/guard.js";
import {
  type ChronyTracking,
  type NtpSample,
  parseChronyTracking,
  readChrony,
  selectedOffset,
  type TimeSyncProbe,
  timeSync,
} from "../../src/jobs/time-sync.js";
import { type Chronyd, freeUdpPort, startChronyd, which } from "../support/chrony.js";
import { type testRuntime as TestRuntime, testRuntime } from "../support/runtime.js";

const cfg = timeSync.config.parse({});
const NOW = new Date("2026-11-25T15:00:00Z");
const ok = (server: string, offsetMs: number): NtpSample => ({ server, ok: true, offsetMs, delayMs: 0.5, stratum: 2 });
const down = (server: string, reason: "timeout" | "kiss-of-death" = "timeout", kissCode?: string): NtpSample => ({
  server,
  ok: false,
  error: `${server}: ${reason}`,
  reason,
  kissCode,
});
const absent: ChronyTracking = { status: "absent" };
const run = (ntp: NtpSample[], chrony: ChronyTracking = absent, c = cfg): Finding[] =>
  timeSync.evaluate({ values: {}, probe: { ntp, chrony } }, NOW, c);
const only = (fs: Finding[]) => fs.map((f) => [f.key, f.severity]);

describe("time_sync thresholds (150 ms warn, 500 ms critical)", () => {
  it("is quiet at exactly 150 ms either way", () => {
    expect(run([ok("a:123", 150)])).toEqual([]);
    expect(run([ok("a:123", -150)])).toEqual([]);
  });
  it("warns just past 150 ms, says which way", () => {
    const fs = run([ok("a:123", 150.001)]);
    expect(only(fs)).toEqual([["time_sync:offset", "warn"]]);
    expect(fs[0]).toMatchObject({ sop: "sop-time-sync", value: "150.0 ms", threshold: "150.0 ms" });
    expect(fs[0]!.title).toContain("behind");
    expect(run([ok("a:123", -150.001)])[0]!.title).toContain("ahead of");
  });
  it("stays a warning at exactly 500 ms and is critical just past it", () => {
    expect(only(run([ok("a:123", 500)]))).toEqual([["time_sync:offset", "warn"]]);
    expect(only(run([ok("a:123", -500.001)]))).toEqual([["time_sync:offset", "critical"]]);
  });
  it("uses configured levels", () => {
    const c = timeSync.config.parse({ servers: ["a:123"], warn_ms: 20, critical_ms: 100 });
    expect(run([ok("a:123", 20)], absent, c)).toEqual([]);
    expect(only(run([ok("a:123", 20.5)], absent, c))).toEqual([["time_sync:offset", "warn"]]);
    expect(only(run([ok("a:123", 100.5)], absent, c))).toEqual([["time_sync:offset", "critical"]]);
  });
  it("judges the median, so one bad server does not fire", () => {
    expect(run([ok("a:123", 2), ok("b:123", 900), ok("c:123", -3)])).toEqual([]);
    expect(
      selectedOffset({ ntp: [ok("a:123", 2), ok("b:123", 900), ok("c:123", -3), ok("d:123", 10)], chrony: absent }),
    ).toEqual({ source: "ntp", offsetMs: 6 });
  });
});

describe("time_sync when servers do not answer", () => {
  it("is critical when no server answers and chrony cannot tell either", () => {
    const fs = run([down("a:123"), down("b:123")], { status: "error", message: "506 Cannot talk to daemon" });
    expect(only(fs)).toEqual([["time_sync:unreachable", "critical"]]);
    expect(fs[0]!.detail).toContain("a:123: timeout");
    expect(fs[0]!.value).toBe("0/2");
  });
  it("warns when no server answers but chrony tracks, and judges chrony's offset", () => {
    const chrony: ChronyTracking = {
      status: "ok",
      offsetMs: 200,
      stratum: 3,
      leap: "Normal",
      refId: "C0A80001 (ntp1)",
    };
    expect(only(run([down("a:123")], chrony))).toEqual([
      ["time_sync:offset", "warn"],
      ["time_sync:unreachable", "warn"],
    ]);
    expect(only(run([down("a:123")], { ...chrony, offsetMs: 10 }))).toEqual([["time_sync:unreachable", "warn"]]);
  });
  it("is quiet when some servers answer", () => {
    expect(run([down("a:123"), ok("b:123", 1)])).toEqual([]);
  });
  it("passes on a kiss-o'-death so someone removes the server", () => {
    expect(only(run([down("a:123", "kiss-of-death", "DENY"), ok("b:123", 1)]))).toEqual([
      ["time_sync:kiss_of_death", "warn"],
    ]);
  });
  it("is critical with no servers configured and no chrony", () => {
    const c = timeSync.config.parse({ servers: [] });
    expect(only(run([], absent, c))).toEqual([["time_sync:unreachable", "critical"]]);
    expect(run([], { status: "ok", offsetMs: 1, stratum: 2, leap: "Normal", refId: "" }, c)).toEqual([]);
  });
  it("warns about chrony only when required or unsynchronised", () => {
    const err: ChronyTracking = { status: "error", message: "506 Cannot talk to daemon" };
    expect(run([ok("a:123", 1)], err)).toEqual([]);
    expect(only(run([ok("a:123", 1)], err, timeSync.config.parse({ chrony: "required" })))).toEqual([
      ["time_sync:chrony_unavailable", "warn"],
    ]);
    expect(
      only(
        run([ok("a:123", 1)], {
          status: "ok",
          offsetMs: 0,
          stratum: 0,
          leap: "Not synchronised",
          refId: "00000000 ()",
        }),
      ),
    ).toEqual([["time_sync:chrony_unsynchronised", "warn"]]);
  });
  it("reports a missing probe instead of throwing", () => {
    expect(only(timeSync.evaluate({ values: {} }, NOW, cfg))).toEqual([["time_sync:no_probe", "warn"]]);
  });
});

describe("chronyc tracking", () => {
  const tracking = (system: string, leap = "Normal") =>
    [
      "Reference ID    : C0A80001 (ntp1.example.net)",
      "Stratum         : 3",
      "Ref time (UTC)  : Tue Jun 09 08:00:00 2026",
      `System time     : ${system} of NTP time`,
      "Last offset     : -0.000012345 seconds",
      `Leap status     : ${leap}`,
      "",
    ].join("\n");
  it("reads 'slow' as a positive offset (the host is behind), 'fast' as negative", () => {
    expect(parseChronyTracking(tracking("0.250000000 seconds slow"))).toEqual({
      status: "ok",
      offsetMs: 250,
      stratum: 3,
      leap: "Normal",
      refId: "C0A80001 (ntp1.example.net)",
    });
    const fast = parseChronyTracking(tracking("0.000123456 seconds fast"));
    expect(fast.status === "ok" && fast.offsetMs).toBeCloseTo(-0.123456, 9);
  });
  it("reports output it does not understand", () => {
    expect(parseChronyTracking("506 Cannot talk to daemon").status).toBe("error");
    expect(parseChronyTracking(tracking("a lot")).status).toBe("error");
  });
  it("is 'absent' when the binary is missing and 'off' when disabled", async () => {
    expect(await readChrony(timeSync.config.parse({ chronyc_path: "/nonexistent/chronyc" }))).toEqual({
      status: "absent",
    });
    expect(await readChrony(timeSync.config.parse({ chrony: "off" }))).toEqual({ status: "off" });
  });
});

describe("time_sync config and metrics", () => {
  it("has the contract's defaults and names", () => {
    expect(cfg).toMatchObject({ servers: ["pool.ntp.org:123"], warn_ms: 150, critical_ms: 500, chrony: "auto" });
    expect(
      timeSync.config.safeParse({
        enabled: true,
        schedule: "0 * * * * *",
        timeout_ms: 5000,
        servers: ["127.0.0.1:123", "[::1]:123"],
      }).success,
    ).toBe(true);
  });
  it.each([
    { servers: ["host:99999"] },
    { servers: ["host:abc"] },
    { warn_ms: 200, critical_ms: 150 },
    { warn_ms: 150, critical_ms: 150 },
    { server: ["a:1"] },
  ])("rejects %j", (c) => {
    expect(timeSync.config.safeParse(c).success).toBe(false);
  });
  it("exports the offset in seconds per source, NaN when not measured", () => {
    const probe: TimeSyncProbe = { ntp: [ok("a:123", 120), ok("b:123", 180), down("c:123")], chrony: absent };
    const m = timeSync.measure!({ values: {}, probe }, cfg);
    expect(m).toContainEqual({ name: "tradeguard_clock_offset_seconds", labels: { source: "ntp" }, value: 0.15 });
    expect(m.find((x) => x.labels?.source === "chrony")?.value).toBeNaN();
    expect(m).toContainEqual({ name: "tradeguard_ntp_servers_answering", value: 2 });
    expect(m).toContainEqual({ name: "tradeguard_ntp_servers_configured", value: 3 });
  });
});

describe("time_sync through the runner against a real chronyd (loopback)", () => {
  let chrony: Chronyd | undefined;
  let t: Awaited<ReturnType<typeof TestRuntime>> | undefined;
  afterEach(async () => {
    await t?.cleanup();
    await chrony?.stop();
    t = chrony = undefined;
  });
  const yaml = (servers: string[], extra = "") =>
    `guards:\n  time_sync:\n    servers: ${JSON.stringify(servers)}\n    query_timeout_ms: 1000\n${extra}`;

  it("is ok against a chronyd serving this host's clock, reads its tracking, exports the offset", async () => {
    chrony = await startChronyd();
    t = await testRuntime({
      yaml: yaml(
        [chrony.server],
        `    chrony: required\n    chronyc_path: ${which("chronyc") ?? "chronyc"}\n    chronyc_host: ${chrony.socket}\n`,
      ),
      guards: [timeSync],
    });
    const r = await t.rt.guards.runOnce({ guard: "time_sync" });
    expect(r.findings).toEqual([]);
    expect(r.guards[0]?.state).toBe("ok");
    const metric = await t.rt.metrics.registry.getSingleMetric("tradeguard_clock_offset_seconds")!.get();
    const ntp = metric.values.find((v) => v.labels.source === "ntp")!.value;
    expect(Math.abs(ntp)).toBeLessThan(0.05);
    // chrony in local mode reports itself as the reference: offset 0, stratum 8.
    expect(metric.values.find((v) => v.labels.source === "chrony")?.value).toBe(0);
  });

  it("warns against a chronyd skewed by faketime +0.8 s", async () => {
    chrony = await startChronyd({ fakeOffset: "+0.8" });
    // Measured offset is 400-800 ms (see sntp.test.ts): above warn_ms, below critical_ms 1000 either way.
    t = await testRuntime({
      yaml: yaml([chrony.server], "    chrony: off\n    critical_ms: 1000\n"),
      guards: [timeSync],
    });
    const r = await t.rt.guards.runOnce({ guard: "time_sync" });
    expect(r.guards[0]?.state).toBe("warn");
    expect(r.findings.map((f) => [f.key, f.severity])).toEqual([["time_sync:offset", "warn"]]);
    const alerts = await t.rt.redis.lrange(t.rt.keys.raw("alerts:time_sync"), 0, -1);
    expect(JSON.parse(alerts[0]!)).toMatchObject({
      type: "opened",
      alert: { key: "time_sync:offset", sop: "sop-time-sync" },
    });
  });

  it("is critical against a chronyd skewed by faketime +3 s", async () => {
    chrony = await startChronyd({ fakeOffset: "+3" });
    t = await testRuntime({
      yaml: yaml([chrony.server], "    chrony: off\n    critical_ms: 1000\n"),
      guards: [timeSync],
    });
    const r = await t.rt.guards.runOnce({ guard: "time_sync" });
    expect(r.findings.map((f) => [f.key, f.severity])).toEqual([["time_sync:offset", "critical"]]);
  });

  it("is critical when no server answers", async () => {
    const closed = await freeUdpPort();
    t = await testRuntime({ yaml: yaml([`127.0.0.1:${closed}`], "    chrony: off\n"), guards: [timeSync] });
    const r = await t.rt.guards.runOnce({ guard: "time_sync" });
    expect(r.findings.map((f) => [f.key, f.severity])).toEqual([["time_sync:unreachable", "critical"]]);
    const metric = await t.rt.metrics.registry.getSingleMetric("tradeguard_ntp_servers_answering")!.get();
    expect(metric.values[0]?.value).toBe(0);
  });
});
