// AWS Cost Explorer as a cost source: the account's UnblendedCost per UTC day and per month, and AWS's own forecast
// to the month's end. Three calls of its JSON 1.1 API (`X-Amz-Target: AWSInsightsIndexService.<Op>`), made in
// parallel so one refresh fits in a guard tick:
// - GetCostAndUsage DAILY from the 1st of the month (or yesterday, on the 1st) to tomorrow (End is exclusive);
// - GetCostAndUsage MONTHLY from the 1st of last month to tomorrow: last month's total and this month to date;
// - GetCostForecast MONTHLY from today to the 1st of next month ("The start date must be equal to or no later than
//   the current date"); DataUnavailableException (too little history) means no forecast, not a failure.
// API_<Operation>: https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_<Operation>.html. Each
// request costs USD 0.01: src/cost/cache.ts decides when to call. The SDK is loaded on the first call.
import type * as Sdk from "@aws-sdk/client-cost-explorer";
import { z } from "zod";
import { addUtcDays, Money, nextMonthStart, previousMonth, utcDate } from "./figures.js";

export interface CostExplorerOptions {
  region: string;
  endpoint?: string;
  /** Static credentials (the configuration's environment, tests); otherwise the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-attempt HTTP timeout. */
  requestTimeoutMs: number;
  /** Attempts per call, the first included. */
  maxAttempts: number;
}

/**
 * Access keys from the configuration's environment (the one the process was started with), like the secret store;
 * without them the SDK's default chain applies (instance role, SSO, files).
 */
export function credentialsFromEnv(env: Record<string, string | undefined>): CostExplorerOptions["credentials"] {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN } = env;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}) };
}

/** What one refresh read, amounts as plain decimal strings. */
export interface CostExplorerResult {
  /** The currency AWS reports (USD). */
  unit: string;
  /** UTC day → cost. */
  daily: Record<string, string>;
  /** YYYY-MM → the month's cost (to date for the current one). */
  monthly: Record<string, string>;
  /** AWS's forecast from today to the month's end (null: AWS has too little history to forecast). */
  forecastRemaining: string | null;
  /** True when AWS marks any of the figures as estimated (recent days are, until the bill is final). */
  estimated: boolean;
  /** Requests sent (pages included). */
  requests: number;
}

/** A failed Cost Explorer call: the operation, AWS's error code and status, and its message. */
export class CostExplorerError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "CostExplorerError";
  }
}

const METRIC = "UnblendedCost";
const MAX_PAGES = 10;
const amountText = z.string().regex(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/, "a decimal amount");
const metricValue = z.object({ Amount: amountText, Unit: z.string().min(1) });
const resultsSchema = z.object({
  ResultsByTime: z
    .array(
      z.object({
        TimePeriod: z.object({ Start: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), End: z.string() }),
        Total: z.record(z.string(), metricValue.partial()).optional(),
        Estimated: z.boolean().optional(),
      }),
    )
    .default([]),
  NextPageToken: z.string().min(1).optional(),
});
const forecastSchema = z.object({ Total: metricValue });

/** The plain decimal form of an amount AWS sent (it may use an exponent: "1.5E-7"). */
function plain(amount: string): string {
  return new Money(amount).toFixed();
}

/** Cost Explorer for one account. */
export class CostExplorer {
  readonly #opts: CostExplorerOptions;
  #client: Promise<{ client: Sdk.CostExplorerClient; sdk: typeof Sdk }> | undefined;

  constructor(opts: CostExplorerOptions) {
    this.#opts = opts;
  }

  #sdk() {
    if (this.#client) return this.#client;
    const o = this.#opts;
    this.#client = import("@aws-sdk/client-cost-explorer").then((sdk) => ({
      sdk,
      client: new sdk.CostExplorerClient({
        region: o.region,
        ...(o.endpoint ? { endpoint: o.endpoint } : {}),
        ...(o.credentials ? { credentials: o.credentials } : {}),
        maxAttempts: o.maxAttempts,
        retryMode: "standard",
        // throwOnRequestTimeout: without it the SDK only logs a warning when requestTimeout passes.
        requestHandler: {
          connectionTimeout: o.requestTimeoutMs,
          requestTimeout: o.requestTimeoutMs,
          throwOnRequestTimeout: true,
        },
      }),
    }));
    this.#client.catch(() => {
      this.#client = undefined;
    });
    return this.#client;
  }

  /** One call, its failure as a CostExplorerError naming the operation. */
  async #send<T>(op: string, run: (c: Sdk.CostExplorerClient, sdk: typeof Sdk) => Promise<T>): Promise<T> {
    const { client, sdk } = await this.#sdk();
    try {
      return await run(client, sdk);
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const code = e.name ?? "Error";
      const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
      const why = code === "AbortError" ? "no answer within the guard's timeout" : (e.message ?? "failed");
      throw new CostExplorerError(`Cost Explorer ${op}: ${code}${status}: ${why}`, code);
    }
  }

  /** GetCostAndUsage over [start, end) at `granularity`, every page; results keyed by their start date. */
  async #costs(granularity: "DAILY" | "MONTHLY", start: string, end: string, signal: AbortSignal) {
    const out: { start: string; amount: string; unit: string | undefined; estimated: boolean }[] = [];
    let token: string | undefined;
    let requests = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      requests++;
      const raw = await this.#send("GetCostAndUsage", (c, sdk) =>
        c.send(
          new sdk.GetCostAndUsageCommand({
            TimePeriod: { Start: start, End: end },
            Granularity: granularity,
            Metrics: [METRIC],
            NextPageToken: token,
          }),
          { abortSignal: signal },
        ),
      );
      const parsed = resultsSchema.safeParse(raw);
      if (!parsed.success)
        throw new CostExplorerError(
          `Cost Explorer GetCostAndUsage: unexpected response (${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message})`,
          "InvalidResponse",
        );
      for (const r of parsed.data.ResultsByTime) {
        const m = r.Total?.[METRIC];
        out.push({
          start: r.TimePeriod.Start,
          amount: plain(m?.Amount ?? "0"),
          unit: m?.Unit,
          estimated: r.Estimated === true,
        });
      }
      token = parsed.data.NextPageToken;
      if (!token) return { results: out, requests };
    }
    throw new CostExplorerError(`Cost Explorer GetCostAndUsage: more than ${MAX_PAGES} pages`, "TooManyPages");
  }

  async #forecast(start: string, end: string, signal: AbortSignal) {
    try {
      const raw = await this.#send("GetCostForecast", (c, sdk) =>
        c.send(
          new sdk.GetCostForecastCommand({
            TimePeriod: { Start: start, End: end },
            Metric: "UNBLENDED_COST",
            Granularity: "MONTHLY",
          }),
          { abortSignal: signal },
        ),
      );
      const parsed = forecastSchema.safeParse(raw);
      if (!parsed.success)
        throw new CostExplorerError("Cost Explorer GetCostForecast: unexpected response (no Total)", "InvalidResponse");
      return { amount: plain(parsed.data.Total.Amount), unit: parsed.data.Total.Unit };
    } catch (err) {
      if (err instanceof CostExplorerError && err.code === "DataUnavailableException") return null;
      throw err;
    }
  }

  /** Reads this month (UTC) as of `now`: days, months and the forecast, in three parallel requests. */
  async fetch(now: Date, signal: AbortSignal): Promise<CostExplorerResult> {
    const today = utcDate(now);
    const month = today.slice(0, 7);
    const tomorrow = addUtcDays(today, 1);
    const yesterday = addUtcDays(today, -1);
    const monthStart = `${month}-01`;
    const [daily, monthly, forecast] = await Promise.all([
      this.#costs("DAILY", yesterday < monthStart ? yesterday : monthStart, tomorrow, signal),
      this.#costs("MONTHLY", `${previousMonth(month)}-01`, tomorrow, signal),
      this.#forecast(today, nextMonthStart(month), signal),
    ]);
    const units = new Set(
      [...daily.results, ...monthly.results].map((r) => r.unit).filter((u): u is string => u !== undefined),
    );
    if (forecast) units.add(forecast.unit);
    if (units.size > 1) throw new CostExplorerError(`Cost Explorer: mixed units (${[...units].join(", ")})`, "Units");
    return {
      unit: [...units][0] ?? "USD",
      daily: Object.fromEntries(daily.results.map((r) => [r.start, r.amount])),
      monthly: Object.fromEntries(monthly.results.map((r) => [r.start.slice(0, 7), r.amount])),
      forecastRemaining: forecast?.amount ?? null,
      estimated: [...daily.results, ...monthly.results].some((r) => r.estimated),
      requests: daily.requests + monthly.requests + 1,
    };
  }
}
