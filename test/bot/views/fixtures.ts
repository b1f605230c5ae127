// The inputs of the view tests: one ordinary value of each thing a view shows, and the large ones of a bad morning
// (300 open alerts, 5,000 LULD pauses, 1 MB reasons, hundreds of brokers), built from the ordinary ones.
import type { OpenAlert } from "../../../src/jobs/alerts.js";
import type { BlastRadius } from "../../../src/ops/blast-radius.js";
import type { ClearRequest } from "../../../src/ops/clear-store.js";
import type { CutoverCheck } from "../../../src/ops/cutover.js";
import type { PanicReport } from "../../../src/ops/panic-report.js";
import type { RotateRequest } from "../../../src/ops/rotate-store.js";
import type { Sop } from "../../../src/ops/runbook.js";
import type { StatusView } from "../../../src/ops/status.js";
import type { ReconResult } from "../../../src/recon/types.js";

export const URL = "https://git.example.com/RUNBOOK.md";
export const NOW = new Date("2026-11-25T14:31:05.000Z"); // 09:31:05 in New York (EST)
export const MB = "x".repeat(1 << 20);
/** A confirmation token as the bot issues them (its contents do not matter to the view). */
export const TOKEN = `v1.${"A".repeat(200)}.${"B".repeat(43)}`;
export const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

export type RadiusBroker = BlastRadius["brokers"][number];
export const radiusBroker = (over: Partial<RadiusBroker> = {}): RadiusBroker => ({
  broker: "alpaca",
  kind: "alpaca",
  openOrders: 3,
  positions: 2,
  grossNotional: "12500.40",
  notCancellable: [],
  error: null,
  ...over,
});
export const radius = (brokers: RadiusBroker[] = [radiusBroker()]): BlastRadius => ({
  readAt: "2026-11-25T14:30:00.000Z",
  brokers,
  totals: {
    openOrders: brokers.reduce((n, b) => n + b.openOrders, 0),
    positions: brokers.reduce((n, b) => n + b.positions, 0),
    grossNotional: "12500.40",
  },
});

export const report = (over: Partial<PanicReport> = {}): PanicReport => ({
  id: "p20261125T143000Z-abc123",
  status: "HALT-PARTIAL",
  reason: "runaway algo",
  actor: "U0TRADER",
  requestedAt: "2026-11-25T14:30:00.000Z",
  haltedAt: "2026-11-25T14:30:00.001Z",
  finishedAt: "2026-11-25T14:30:03.000Z",
  durationMs: 3000,
  haltFlag: "set",
  brokers: [
    {
      broker: "alpaca",
      kind: "alpaca",
      verified: false,
      cancelled: [{ ref: "o-1", ok: true, status: 200 }],
      closed: [{ ref: "GME", ok: false, status: 403, reason: "insufficient qty available" }],
      remaining: { orders: [], positions: [{ symbol: "GME", qty: "-7" }] },
      errors: ["GME: insufficient qty available"],
      rounds: 3,
      durationMs: 2900,
    },
  ],
  snapshot: "/var/lib/tradeguard/snapshots/x.json",
  snapshotError: null,
  redisErrors: [],
  attempts: 1,
  ...over,
});

export type StatusAlert = StatusView["alerts"][number];
export const statusAlert = (i: number, over: Partial<StatusAlert> = {}): StatusAlert => ({
  guard: "luld",
  key: `k${i}`,
  severity: i % 3 ? "warn" : "critical",
  title: `LULD pause on SYM${i}`,
  since: "2026-11-25T14:20:00.000Z",
  count: i,
  sop: "sop-luld",
  ackedBy: null,
  ...over,
});

export const status = (over: Partial<StatusView> = {}): StatusView => ({
  mode: "halt",
  reason: "drill",
  actor: "U0TRADER",
  since: "2026-11-25T14:30:00.001Z",
  panicId: "p20261125T143000Z-abc123",
  panicRunning: null,
  lastPanic: report(),
  clearRequest: null,
  soakUntil: null,
  brokers: [{ name: "alpaca", kind: "alpaca" }],
  guards: [{ name: "time_sync", state: "ok", detail: "ok", lastRun: "2026-11-25T14:29:00.000Z", durationMs: 3 }],
  alerts: [statusAlert(1)],
  flags: { eventLock: null, luldPaused: 2, ssrActive: 0 },
  keys: [{ broker: "alpaca", keyId: "PKCURRENT", ageDays: 9, pendingKeyId: null, rotation: null }],
  recon: [{ date: "2026-11-24", broker: "alpaca", ok: true, mismatches: 0, errors: 0, at: "2026-11-24T22:30:00.000Z" }],
  unreadable: [],
  ...over,
});

export const openAlert = (over: Partial<OpenAlert> = {}): OpenAlert => ({
  guard: "policy_watchdog",
  key: "stale",
  severity: "critical",
  title: "policy stale",
  detail: "last update 412 s ago",
  sop: "sop-policy-watchdog",
  value: "412 s",
  threshold: "300 s",
  stream: "policy",
  since: "2026-11-25T14:20:00.000Z",
  lastSeen: "2026-11-25T14:29:00.000Z",
  count: 9,
  notifiedSeverity: "critical",
  ...over,
});

export const clearRequest = (over: Partial<ClearRequest> = {}): ClearRequest => ({
  id: "c20261125T150000Z-def456",
  requester: "U0CLEAR",
  reason: "flat and reconciled",
  createdAt: "2026-11-25T15:00:00.000Z",
  expiresAt: "2026-11-25T15:15:00.000Z",
  needed: 2,
  approvals: ["U0APPROVE"],
  state: "pending",
  panicId: "p20261125T143000Z-abc123",
  haltSince: "2026-11-25T14:30:00.001Z",
  decidedBy: null,
  decidedAt: null,
  ...over,
});

export const rotateRequest = (over: Partial<RotateRequest> = {}): RotateRequest => ({
  id: "r20261125T150000Z-abcdef",
  broker: "alpaca",
  secret: "tradeguard/alpaca",
  requester: "U0ROTATE",
  reason: "90 days",
  createdAt: "2026-11-25T15:00:00.000Z",
  expiresAt: "2026-11-25T16:00:00.000Z",
  needed: 1,
  approvals: [],
  state: "pending_approval",
  pendingKeyId: "PKNEW",
  currentKeyId: "PKOLD",
  decidedBy: null,
  decidedAt: null,
  detail: null,
  ...over,
});

export const reconResult = (mismatches: number, over: Partial<ReconResult> = {}): ReconResult => ({
  date: "2026-11-24",
  ok: mismatches === 0,
  rows: 1200,
  mismatches: many(mismatches, (i) => ({
    kind: "qty",
    symbol: `SYM${i}`,
    order_id: `o-${i}`,
    ours: "100",
    theirs: "99.5",
    diff: "0.5",
  })),
  errors: [],
  symbols: [],
  ...over,
});

export const cutover = (over: Partial<CutoverCheck> = {}): CutoverCheck => ({
  at: "2026-12-01T15:00:00.000Z",
  ok: false,
  gates: [{ gate: "recon", verdict: "unknown", evidence: "no recon recorded" }],
  assetClasses: [{ assetClass: "equities", enabled: false, flag: null, invalid: null, pending: null }],
  ...over,
});

export const sop = (over: Partial<Sop> = {}): Sop => ({
  anchor: "sop-panic",
  title: "Panic (halt trading)",
  body: "**When**: now.\n\n```sh\nnpx tradeguard panic\n```",
  ...over,
});

/** 5,000 symbols paused under LULD, as a guard's alert detail would list them. */
export const LULD_5000 = many(5000, (i) => `SYM${i}`).join(", ");
