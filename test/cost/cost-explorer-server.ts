// A local AWS Cost Explorer speaking its documented JSON 1.1 protocol: POST /, `X-Amz-Target:
// AWSInsightsIndexService.<Op>`, `Content-Type: application/x-amz-json-1.1`, errors as HTTP 400
// `{"__type": "...", "message": "..."}` (5xx for service faults). What it implements of the API reference:
// - GetCostAndUsage: TimePeriod {Start, End} (YYYY-MM-DD, Start inclusive, End exclusive, Start < End), Granularity
//   DAILY | MONTHLY, Metrics (names such as "UnblendedCost"); ResultsByTime one entry per day or per (partial) month,
//   each {TimePeriod, Total: {<Metric>: {Amount, Unit}}, Groups: [], Estimated}; DAILY results paged with
//   NextPageToken when `pageSize` is set;
// - GetCostForecast: TimePeriod (Start no earlier than the current date, else ValidationException), Metric
//   UNBLENDED_COST | BLENDED_COST | …, Granularity DAILY | MONTHLY; {Total: {Amount, Unit}, ForecastResultsByTime:
//   [{TimePeriod, MeanValue}]}, or DataUnavailableException when there is too little history.
// Costs come from `days` (date → amount string); it records every request and can inject failures and delays.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Decimal } from "decimal.js";

export interface RecordedRequest {
  op: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface Fault {
  status?: number;
  type?: string;
  message?: string;
  /** How many requests fail (default 1). */
  times?: number;
  /** Delay the response this long instead of failing (for timeouts). */
  delayMs?: number;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const FORECAST_METRICS = [
  "AMORTIZED_COST",
  "BLENDED_COST",
  "NET_AMORTIZED_COST",
  "NET_UNBLENDED_COST",
  "UNBLENDED_COST",
];
const addDays = (d: string, n: number) =>
  new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
const monthEnd = (d: string) => {
  const [y, m] = d.split("-").map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
};

export class CostExplorerServer {
  readonly requests: RecordedRequest[] = [];
  /** UTC date → UnblendedCost of that day. */
  days = new Map<string, string>();
  unit = "USD";
  /** The forecast's unit when it differs from `unit` (a broken account setup). */
  forecastUnit: string | null = null;
  /** Days AWS still marks as estimated. */
  estimated = new Set<string>();
  /** The forecast's Total from the request's Start to its End; null → DataUnavailableException. */
  forecast: string | null = "0";
  /** The server's current date (GetCostForecast refuses an earlier Start). */
  today = "2026-12-15";
  /** DAILY results per page (0: no paging). */
  pageSize = 0;
  #faults = new Map<string, Fault & { left: number }>();
  #server: Server;
  url = "";

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void this.#handle(req.headers, Buffer.concat(chunks).toString("utf8"), res));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }

  /** Makes the next `fault.times` requests for `op` fail (or stall). */
  fail(op: string, fault: Fault = {}): void {
    this.#faults.set(op, { ...fault, left: fault.times ?? 1 });
  }

  reset(): void {
    this.requests.length = 0;
    this.days.clear();
    this.estimated.clear();
    this.#faults.clear();
    this.unit = "USD";
    this.forecastUnit = null;
    this.forecast = "0";
    this.pageSize = 0;
  }

  ops(): string[] {
    return this.requests.map((r) => r.op);
  }

  async #handle(headers: IncomingHttpHeaders, text: string, res: ServerResponse): Promise<void> {
    const target = String(headers["x-amz-target"] ?? "");
    const op = target.startsWith("AWSInsightsIndexService.") ? target.slice("AWSInsightsIndexService.".length) : target;
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { unparsable: text };
    }
    this.requests.push({ op, headers, body });
    const send = (status: number, payload: unknown) => {
      const out = JSON.stringify(payload);
      res.writeHead(status, {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-requestid": randomUUID(),
        "content-length": Buffer.byteLength(out),
      });
      res.end(out);
    };
    const fault = this.#faults.get(op);
    if (fault && fault.left > 0) {
      fault.left--;
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      else
        return send(fault.status ?? 500, {
          __type: fault.type ?? "InternalServerException",
          message: fault.message ?? "injected",
        });
    }
    try {
      if (headers["content-type"] !== "application/x-amz-json-1.1")
        throw new AwsError("SerializationException", "Content-Type application/x-amz-json-1.1 expected");
      if (op === "GetCostAndUsage") return send(200, this.#costAndUsage(body));
      if (op === "GetCostForecast") return send(200, this.#costForecast(body));
      throw new AwsError("UnknownOperationException", `unknown operation ${target}`);
    } catch (err) {
      if (err instanceof AwsError) send(err.status, { __type: err.type, message: err.message });
      else send(500, { __type: "InternalServerException", message: String(err) });
    }
  }

  #period(body: Record<string, unknown>): { start: string; end: string } {
    const p = body.TimePeriod as { Start?: unknown; End?: unknown } | undefined;
    const start = p?.Start;
    const end = p?.End;
    if (typeof start !== "string" || typeof end !== "string" || !DAY.test(start) || !DAY.test(end))
      throw new AwsError("ValidationException", "TimePeriod Start and End must be dates (YYYY-MM-DD)");
    if (start >= end) throw new AwsError("ValidationException", "Start date must be before the end date");
    return { start, end };
  }

  #sum(from: string, to: string): Decimal {
    let total = new Decimal(0);
    for (let d = from; d < to; d = addDays(d, 1)) total = total.add(this.days.get(d) ?? "0");
    return total;
  }

  #costAndUsage(body: Record<string, unknown>) {
    const { start, end } = this.#period(body);
    const granularity = body.Granularity;
    if (granularity !== "DAILY" && granularity !== "MONTHLY")
      throw new AwsError("ValidationException", "Granularity must be DAILY or MONTHLY here");
    const metrics = body.Metrics;
    if (!Array.isArray(metrics) || metrics.length === 0)
      throw new AwsError("ValidationException", "Metrics is required");
    const results: unknown[] = [];
    const total = (from: string, to: string) =>
      Object.fromEntries(metrics.map((m) => [m, { Amount: this.#sum(from, to).toFixed(), Unit: this.unit }]));
    if (granularity === "DAILY") {
      for (let d = start; d < end; d = addDays(d, 1))
        results.push({
          TimePeriod: { Start: d, End: addDays(d, 1) },
          Total: total(d, addDays(d, 1)),
          Groups: [],
          Estimated: this.estimated.has(d),
        });
    } else {
      for (let d = start; d < end; d = monthEnd(d)) {
        // Dates as strings: the earlier of the month's end and the period's end.
        const to = [monthEnd(d), end].sort()[0]!;
        const est = [...this.estimated].some((e) => e >= d && e < to);
        results.push({ TimePeriod: { Start: d, End: to }, Total: total(d, to), Groups: [], Estimated: est });
      }
    }
    if (granularity === "DAILY" && this.pageSize > 0) {
      const offset = typeof body.NextPageToken === "string" ? Number(body.NextPageToken) : 0;
      const page = results.slice(offset, offset + this.pageSize);
      const next = offset + this.pageSize < results.length ? String(offset + this.pageSize) : undefined;
      return {
        GroupDefinitions: [],
        ResultsByTime: page,
        DimensionValueAttributes: [],
        ...(next ? { NextPageToken: next } : {}),
      };
    }
    return { GroupDefinitions: [], ResultsByTime: results, DimensionValueAttributes: [] };
  }

  #costForecast(body: Record<string, unknown>) {
    const { start, end } = this.#period(body);
    if (start < this.today)
      throw new AwsError("ValidationException", "Start date must be equal to or no later than the current date");
    if (typeof body.Metric !== "string" || !FORECAST_METRICS.includes(body.Metric))
      throw new AwsError("ValidationException", `Metric ${String(body.Metric)} is not valid`);
    if (body.Granularity !== "DAILY" && body.Granularity !== "MONTHLY")
      throw new AwsError("ValidationException", "Granularity must be DAILY or MONTHLY");
    if (this.forecast === null)
      throw new AwsError("DataUnavailableException", "Insufficient amount of historical data to generate forecast.");
    return {
      Total: { Amount: this.forecast, Unit: this.forecastUnit ?? this.unit },
      ForecastResultsByTime: [{ TimePeriod: { Start: start, End: end }, MeanValue: this.forecast }],
    };
  }
}

export function startCostExplorerServer(): Promise<CostExplorerServer> {
  return new CostExplorerServer().start();
}
