// Shared helpers for the benchmarks: result rows, statistics, formatting, a private redis-server per benchmark.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRedisServer } from "../test/support/global-setup.js";

/**
 * One line of the summary table (and of `--json`). `id` is the desk's target (issue #17: P1…P8), "" for a report-only
 * row; `ratio` is measured ÷ baseline (null when there is none); `verdict` INFO means the row has no target.
 */
export interface Row {
  id: string;
  bench: string;
  metric: string;
  measured: string;
  baseline: string;
  ratio: number | null;
  target: string;
  verdict: "PASS" | "FAIL" | "INFO" | "ERROR";
}

export interface Benchmark {
  /** The target it measures (P1…P8), or "" for a benchmark run only when named. */
  id: string;
  name: string;
  description: string;
  run(): Promise<Row[]>;
}

/** bench/.cache/, created on demand (ignored by git through bench/.gitignore). */
export function cacheDir(): string {
  const dir = fileURLToPath(new URL("./.cache/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(tag: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `tg-bench-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  everyMs = 2,
): Promise<void> {
  const giveUp = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > giveUp) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function sortedCopy(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

export function median(xs: readonly number[]): number {
  return percentile(sortedCopy(xs), 50);
}

export interface Dist {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function dist(xs: readonly number[]): Dist {
  const s = sortedCopy(xs);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
    mean: s.reduce((a, b) => a + b, 0) / (s.length || 1),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  if (ms < 10_000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function fmtSec(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function fmtRate(perSec: number, unit: string): string {
  return `${fmtInt(perSec)} ${unit}/s`;
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "n/a";
}

export function fmtDist(d: Dist): string {
  return `p50 ${fmtMs(d.p50)}  p90 ${fmtMs(d.p90)}  p99 ${fmtMs(d.p99)}  (min ${fmtMs(d.min)}, max ${fmtMs(d.max)}, n=${d.n})`;
}

export function verdict(pass: boolean): "PASS" | "FAIL" {
  return pass ? "PASS" : "FAIL";
}

/** Where progress goes: stdout, or stderr with `--json` (stdout then carries only the JSON object). */
let progress: NodeJS.WritableStream = process.stdout;

/** Sends progress to stderr (for `--json`). */
export function progressToStderr(): void {
  progress = process.stderr;
}

/** Writes progress text as is. */
export function log(text: string): void {
  progress.write(text);
}

/** Prints one indented report line of the running benchmark. */
/**
 * The environment for a child that runs the BUILT code (bench/.cache/build): `npm run bench` resolves
 * @tradeguard/gate to its TypeScript source through NODE_OPTIONS, which plain node cannot load.
 */
export function builtEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const opts = (process.env.NODE_OPTIONS ?? "").replace(/--conditions=@tradeguard\/source/g, "").trim();
  return { ...process.env, NODE_OPTIONS: opts, ...extra };
}

export function say(line = ""): void {
  progress.write(`  ${line}\n`);
}

/** A ratio rounded for the JSON rows (null when not finite). */
export function ratioOf(measured: number, baseline: number): number | null {
  const r = measured / baseline;
  return Number.isFinite(r) ? Math.round(r * 100) / 100 : null;
}

/** A row with a target: PASS when `pass`, the ratio measured ÷ baseline. */
export function targetRow(r: Omit<Row, "verdict" | "ratio"> & { ratio: number | null; pass: boolean }): Row {
  const { pass, ...rest } = r;
  return { ...rest, verdict: pass ? "PASS" : "FAIL" };
}

/** Prints rows as an aligned plain-text table (Markdown-compatible). */
export function table(rows: Row[]): string {
  const head = {
    id: "id",
    bench: "benchmark",
    metric: "metric",
    measured: "measured",
    baseline: "baseline (same run)",
    ratio: "ratio",
    target: "target",
    verdict: "result",
  };
  const cols = Object.keys(head) as (keyof Row)[];
  const cell = (r: Row, c: keyof Row) => (c === "ratio" ? (r.ratio === null ? "-" : fmtRatio(r.ratio)) : String(r[c]));
  const body = rows.map((r) => cols.map((c) => cell(r, c)));
  const widths = cols.map((c, i) => Math.max(head[c].length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((x, i) => x.padEnd(widths[i]!)).join(" | ")} |`;
  const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(cols.map((c) => head[c])), rule, ...body.map(line)].join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

export interface BenchRedis {
  url: string;
  port: number;
  stop: () => Promise<void>;
}

const running = new Set<BenchRedis>();

/** Starts a private redis-server on a free loopback port (never 6379). */
export async function startBenchRedis(): Promise<BenchRedis> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const srv = await startRedisServer();
    if (srv.port === 6379) {
      await srv.stop();
      continue;
    }
    const handle: BenchRedis = {
      url: srv.url,
      port: srv.port,
      stop: async () => {
        running.delete(handle);
        await srv.stop();
      },
    };
    running.add(handle);
    return handle;
  }
  throw new Error("could not get a free loopback port other than 6379 for redis-server");
}

/** Runs `fn` with a private redis-server that is stopped afterwards, whatever happens. */
export async function withRedis<T>(fn: (srv: BenchRedis) => Promise<T>): Promise<T> {
  const srv = await startBenchRedis();
  try {
    return await fn(srv);
  } finally {
    await srv.stop();
  }
}

/** Stops every redis-server still running (Ctrl-C). */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}
