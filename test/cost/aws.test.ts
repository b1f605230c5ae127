// The Cost Explorer adapter at the HTTP layer, against a local server speaking Cost Explorer's JSON 1.1 protocol:
// the three requests (targets, bodies, SigV4 for "ce" in the configured region), what it reads back (exact
// decimals, exponent amounts normalised, pages followed), AWS's "no forecast yet" answer, bounded retries and
// timeouts, and the SDK's Node-20 support warning kept off stdout.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { CostExplorer, CostExplorerError, type CostExplorerOptions, credentialsFromEnv } from "../../src/cost/aws.js";
import { caught } from "../support/caught.js";
import { type CostExplorerServer, startCostExplorerServer } from "./cost-explorer-server.js";

let srv: CostExplorerServer;
const stdoutWrites: string[] = [];
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
const CREDS = { accessKeyId: "AKIDTESTFAKE00000000", secretAccessKey: "fake-aws-secret-access-key-0000000000" };
const NOW = new Date("2026-12-15T14:00:00.000Z");
const signal = () => AbortSignal.timeout(10_000);

function explorer(over: Partial<CostExplorerOptions> = {}) {
  return new CostExplorer({
    region: "us-east-1",
    endpoint: srv.url,
    credentials: CREDS,
    requestTimeoutMs: 1_000,
    maxAttempts: 2,
    ...over,
  });
}

beforeAll(async () => {
  srv = await startCostExplorerServer();
  process.on("warning", onWarning);
  const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
  vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stdoutWrites.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stdout.write);
});
afterAll(async () => {
  process.off("warning", onWarning);
  vi.restoreAllMocks();
  await srv.stop();
});
beforeEach(() => {
  srv.reset();
  srv.today = "2026-12-15";
});
afterEach(() => {
  expect(stdoutWrites.join("")).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
});

const body = (op: string, granularity?: string) =>
  srv.requests.find((r) => r.op === op && (!granularity || r.body.Granularity === granularity))?.body;

describe("Cost Explorer adapter", () => {
  it("sends GetCostAndUsage DAILY and MONTHLY and GetCostForecast, signed for ce in us-east-1", async () => {
    await explorer().fetch(NOW, signal());
    expect(srv.ops().sort()).toEqual(["GetCostAndUsage", "GetCostAndUsage", "GetCostForecast"]);
    for (const r of srv.requests) {
      expect(r.headers["content-type"]).toBe("application/x-amz-json-1.1");
      expect(r.headers["x-amz-target"]).toBe(`AWSInsightsIndexService.${r.op}`);
      expect(r.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDTESTFAKE00000000\/\d{8}\/us-east-1\/ce\/aws4_request, SignedHeaders=.*x-amz-target/,
      );
    }
    // End is exclusive: tomorrow includes today.
    expect(body("GetCostAndUsage", "DAILY")).toEqual({
      TimePeriod: { Start: "2026-12-01", End: "2026-12-16" },
      Granularity: "DAILY",
      Metrics: ["UnblendedCost"],
    });
    expect(body("GetCostAndUsage", "MONTHLY")).toEqual({
      TimePeriod: { Start: "2026-11-01", End: "2026-12-16" },
      Granularity: "MONTHLY",
      Metrics: ["UnblendedCost"],
    });
    expect(body("GetCostForecast")).toEqual({
      TimePeriod: { Start: "2026-12-15", End: "2027-01-01" },
      Metric: "UNBLENDED_COST",
      Granularity: "MONTHLY",
    });
  });

  it("reads days, months and the forecast as exact decimal strings", async () => {
    srv.days.set("2026-11-30", "100.10");
    srv.days.set("2026-12-01", "12.3456789012");
    srv.days.set("2026-12-14", "0.1");
    srv.days.set("2026-12-15", "0.2");
    srv.estimated.add("2026-12-15");
    srv.forecast = "1.5E+2";
    const r = await explorer().fetch(NOW, signal());
    expect(r.unit).toBe("USD");
    expect(r.daily["2026-12-01"]).toBe("12.3456789012");
    expect(r.daily["2026-12-15"]).toBe("0.2");
    expect(Object.keys(r.daily)).toHaveLength(15);
    // 12.3456789012 + 0.1 + 0.2, not 12.645678901200001
    expect(r.monthly).toEqual({ "2026-11": "100.1", "2026-12": "12.6456789012" });
    expect(r.forecastRemaining).toBe("150");
    expect(r.estimated).toBe(true);
    expect(r.requests).toBe(3);
  });

  it("on the 1st reads yesterday too (the last day of the previous month)", async () => {
    srv.today = "2027-01-01";
    await explorer().fetch(new Date("2027-01-01T09:00:00Z"), signal());
    expect(body("GetCostAndUsage", "DAILY")).toMatchObject({ TimePeriod: { Start: "2026-12-31", End: "2027-01-02" } });
    expect(body("GetCostAndUsage", "MONTHLY")).toMatchObject({
      TimePeriod: { Start: "2026-12-01", End: "2027-01-02" },
    });
    expect(body("GetCostForecast")).toMatchObject({ TimePeriod: { Start: "2027-01-01", End: "2027-02-01" } });
  });

  it("follows NextPageToken and counts every request", async () => {
    srv.pageSize = 4;
    srv.days.set("2026-12-13", "7");
    const r = await explorer().fetch(NOW, signal());
    expect(r.daily["2026-12-13"]).toBe("7");
    expect(Object.keys(r.daily)).toHaveLength(15);
    expect(r.requests).toBe(4 + 1 + 1);
    expect(srv.requests.filter((x) => x.body.NextPageToken).map((x) => x.body.NextPageToken)).toEqual(["4", "8", "12"]);
  });

  it("takes DataUnavailableException as 'no forecast yet', not as a failure", async () => {
    srv.forecast = null;
    expect((await explorer().fetch(NOW, signal())).forecastRemaining).toBeNull();
  });

  it("retries a throttled call within max_attempts, then fails naming the operation and the code", async () => {
    srv.fail("GetCostForecast", { status: 400, type: "ThrottlingException", message: "Rate exceeded", times: 1 });
    expect((await explorer().fetch(NOW, signal())).forecastRemaining).toBe("0");
    expect(srv.ops().filter((o) => o === "GetCostForecast")).toHaveLength(2);
    srv.reset();
    srv.fail("GetCostAndUsage", { status: 400, type: "LimitExceededException", message: "too many", times: 10 });
    const err = await caught(explorer().fetch(NOW, signal()));
    expect(err).toBeInstanceOf(CostExplorerError);
    expect((err as CostExplorerError).code).toBe("LimitExceededException");
    expect((err as Error).message).toMatch(
      /^Cost Explorer GetCostAndUsage: LimitExceededException \(HTTP 400\): too many/,
    );
  });

  it("gives up on a server that does not answer within the request timeout (attempts bounded)", async () => {
    srv.fail("GetCostForecast", { delayMs: 1_500, times: 5 });
    const err = await caught(explorer({ requestTimeoutMs: 200, maxAttempts: 2 }).fetch(NOW, signal()));
    expect(err).toBeInstanceOf(CostExplorerError);
    expect((err as Error).message).toMatch(/^Cost Explorer GetCostForecast: /);
    expect(srv.ops().filter((o) => o === "GetCostForecast").length).toBeLessThanOrEqual(2);
  });

  it("refuses a response that is not Cost Explorer's shape, and mixed units", async () => {
    srv.forecast = "not-a-number";
    expect(String(await caught(explorer().fetch(NOW, signal())))).toMatch(/GetCostForecast: unexpected response/);
    srv.forecast = "10";
    srv.forecastUnit = "EUR";
    expect(String(await caught(explorer().fetch(NOW, signal())))).toMatch(/mixed units \(USD, EUR\)/);
  });

  it("leaves the SDK's Node-20 support warning a process warning (stderr), never stdout output", async () => {
    await explorer().fetch(NOW, signal());
    await new Promise((r) => setImmediate(r));
    if (Number(process.versions.node.split(".")[0]) < 22)
      expect(warnings.some((w) => w.includes("NodeVersionSupportWarning"))).toBe(true);
    expect(stdoutWrites.join("")).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
  });

  it("takes static credentials from the configuration's environment only when both keys are there", () => {
    expect(credentialsFromEnv({ AWS_ACCESS_KEY_ID: "A" })).toBeUndefined();
    expect(credentialsFromEnv({ AWS_ACCESS_KEY_ID: "A", AWS_SECRET_ACCESS_KEY: "S", AWS_SESSION_TOKEN: "T" })).toEqual({
      accessKeyId: "A",
      secretAccessKey: "S",
      sessionToken: "T",
    });
  });
});
