// What a report is, before it is drawn or written: plain data, JSON as it is saved (`tradeguard report --json`).
// Every section says whether it has data; one without says why ("no data: …"), and nothing is ever filled in.
// Money and quantities are decimal strings computed exactly (decimal.js); durations are whole milliseconds.
import type { Period } from "./period.js";

/** A section with its data, or the reason it has none (nothing recorded, or what was recorded is unreadable). */
export type Section<T> =
  | { status: "ok"; data: T; notes: string[] }
  | { status: "no_data"; reason: string }
  | { status: "unreadable"; reason: string };

export const ok = <T>(data: T, notes: string[] = []): Section<T> => ({ status: "ok", data, notes });
export const noData = <T>(reason: string): Section<T> => ({ status: "no_data", reason });
export const unreadable = <T>(reason: string): Section<T> => ({ status: "unreadable", reason });

export interface GuardFired {
  guard: string;
  warn: number;
  critical: number;
  /** Alerts raised to a higher severity while open (warn → critical). */
  escalated: number;
}

export interface AlertItem {
  /** `alerts:open` field: `<stream>/<finding key>`. */
  field: string;
  guard: string;
  severity: "warn" | "critical";
  title: string;
  openedAt: string;
  ackedAt: string | null;
  ackedBy: string | null;
  ttaMs: number | null;
  resolvedAt: string | null;
}

export interface AlertStats {
  opened: number;
  acknowledged: number;
  unacknowledged: number;
  resolved: number;
  /** Time to acknowledge of the acknowledged ones: nearest-rank percentiles (p50 = the ⌈n/2⌉-th smallest). */
  tta: { samples: number; p50Ms: number | null; p90Ms: number | null; maxMs: number | null };
  items: AlertItem[];
}

export interface HaltRow {
  panicId: string | null;
  haltedAt: string;
  actor: string;
  reason: string | null;
  /** HALT-VERIFIED / HALT-PARTIAL from `panic.verified`, null when not recorded. */
  status: string | null;
  /** From the halt to the panic's verdict (brokers flat or the deadline). */
  flatMs: number | null;
  resumeRequestId: string | null;
  /** The approved resume (mode reduce_only). */
  resumedAt: string | null;
  /** Halted: from the halt to the approved resume (or the period's end while still halted). */
  haltedMs: number;
  /** The end of the reduce-only soak (mode active). */
  activeAt: string | null;
  soakMs: number | null;
  /** Still halted (or in the soak) at the end of the period. */
  ongoing: boolean;
  /** The halt began before the period (its time in the period is counted from the start). */
  startedBefore: boolean;
}

export interface HaltStats {
  halts: HaltRow[];
  /** Time spent halted inside the period. */
  haltedMsInPeriod: number;
}

export interface ReconRun {
  date: string;
  broker: string | null;
  ok: boolean;
  mismatches: number;
  errors: number;
  at: string;
}

export interface ReconStats {
  runs: ReconRun[];
  ok: number;
  mismatched: number;
  couldNotReconcile: number;
}

export interface KeyAge {
  broker: string;
  keyId: string | null;
  ageDays: number | null;
  due: boolean;
  pending: string | null;
  previous: string | null;
}

export interface KeyStats {
  asOf: string;
  maxAgeDays: number;
  brokers: KeyAge[];
}

export interface ErrorBudgetRow {
  slo: string;
  /** Percent of events that must be good ("99.9"). */
  target: string;
  periodDays: number;
  /** Events of the period (UTC days starting in it). */
  good: string;
  total: string;
  /** Error ratio ÷ budget over the period, 2 decimals ("1.35"); null without events. */
  burnRate: string | null;
  /** Budget left over the SLO's rolling period when the report was made ("62.3%"), null unless judged. */
  leftPct: string | null;
  spent: boolean;
  state: "ok" | "no_data" | "unreadable";
}

export interface WeeklyReport {
  kind: "weekly";
  title: string;
  period: Period;
  generatedAt: string;
  sections: {
    guards: Section<{ rows: GuardFired[]; warn: number; critical: number; escalated: number }>;
    alerts: Section<AlertStats>;
    halts: Section<HaltStats>;
    recon: Section<ReconStats>;
    keys: Section<KeyStats>;
    errorBudget: Section<{ rows: ErrorBudgetRow[] }>;
  };
  /** What could not be read while gathering (named keys and entries), for the reader and the SOP. */
  problems: string[];
}

export interface CostRow {
  source: string;
  currency: string;
  /** Spent in the month (to date for a partial month), decimal string. */
  spent: string;
  monthlyBudget: string | null;
  /** spent × 100 / budget, 2 decimals ("82.41"); null without a budget, "∞" against a zero budget. */
  pctOfBudget: string | null;
  /** Month-end forecast: the writer's (Cost Explorer), or the run rate of the complete days; null when none yet. */
  forecast: string | null;
  forecastFrom: "writer" | "run_rate" | null;
  dailyBudget: string | null;
  /** UTC days of the month whose cost exceeded the daily budget. */
  daysOverDailyBudget: number | null;
}

export interface PnlRow {
  strategy: string;
  /** FIFO realized P&L of the month's closing fills, gross of fees (account currency, to the cent). */
  realized: string;
  /** Fees of the strategy's fills in the month. */
  fees: string;
  net: string;
  fills: number;
}

export interface SlippageRow {
  strategy: string;
  fills: number;
  /** Mean slippage in basis points, positive = adverse (2 decimals, half-even). */
  meanBps: string;
  /** Notional-weighted bps (sum_cost / sum_notional × 10 000). */
  weightedBps: string | null;
  adverse: number;
  favourable: number;
  minBps: string;
  maxBps: string;
  /** What adverse slippage cost in price currency (to the cent). */
  cost: string;
}

export interface SlippageBucket {
  /** "[-inf, -100)", "[0, 1)", … */
  label: string;
  strategy: string;
  fills: number;
}

export interface CapHit {
  strategy: string;
  rule: string;
  /** Alerts opened for it in the period. */
  count: number;
}

export interface MonthlyReport {
  kind: "monthly";
  title: string;
  period: Period;
  generatedAt: string;
  sections: {
    /** Cost months are UTC (Cost Explorer's billing days), the other sections New York. */
    costs: Section<{ month: string; rows: CostRow[]; totals: { currency: string; spent: string }[] }>;
    pnl: Section<{ rows: PnlRow[]; net: string }>;
    slippage: Section<{ rows: SlippageRow[]; buckets: string[]; histogram: SlippageBucket[] }>;
    caps: Section<{ rows: CapHit[]; total: number }>;
  };
  problems: string[];
}

export type Report = WeeklyReport | MonthlyReport;

/** Nearest-rank percentile of sorted values: the ⌈p·n⌉-th smallest (null for none). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** A duration for people: "45 s", "4 min 10 s", "1 h 12 min", "2 d 3 h". */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}
