// Strategy caps and allocator bounds (issue 15 §17). The desk configures per-strategy bounds under
// guards.strategy_caps.strategies (min/max weight, max gross notional, max position per symbol, max order notional).
// Every tick the guard
//  1. publishes them into the bot-owned hash `strategy:bounds` (one canonical JSON per strategy; only what changed is
//     written, then `PUBLISH <prefix>flags`), so that every trading process's gate enforces the per-order caps in
//     process, next to the risk desk's `strategy:caps` (the stricter limit wins; docs/gate.md);
//  2. checks the allocator's published weights (`alloc:weights`) against the weight bounds, the RL policy watchdog's
//     floor (`policy:weight_floor`, 0.05 while the policy is unhealthy: every strategy keeps at least that weight) and
//     the event lock's cap (`risk:event_lock`, 25%: during a macro window a strategy it does not exempt may carry at
//     most cap × its max_weight). Each violating weight is a finding naming the rule; arithmetic is exact (decimal.js).
import { Decimal } from "decimal.js";
import { z } from "zod";
import { MARKET_KEYS, POLICY_KEYS, STRATEGY_KEYS } from "../state/keys.js";
import { eventLockSchema } from "../state/validate.js";
import { defineGuard, type Finding, type FlagChange, ReadFailure } from "./guard.js";

export const SOP_STRATEGY_CAPS = "sop-strategy-caps";

const DECIMAL = /^\d+(\.\d+)?$/;
/** A non-negative decimal in YAML: a number or a decimal string, kept as a canonical decimal string. */
const amount = z
  .union([z.number().finite().nonnegative(), z.string().regex(DECIMAL, "a non-negative decimal")])
  .transform((v) => new Decimal(String(v)).toFixed());
const weight = amount.refine((v) => new Decimal(v).lte(1), "a weight between 0 and 1");
const STRATEGY_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

const boundsSchema = z
  .object({
    min_weight: weight.optional(),
    max_weight: weight.optional(),
    max_gross_notional: amount.optional(),
    max_position: amount.optional(),
    max_order_notional: amount.optional(),
  })
  .strict()
  .refine(
    (b) => b.min_weight === undefined || b.max_weight === undefined || new Decimal(b.min_weight).lte(b.max_weight),
    {
      message: "min_weight must not be above max_weight",
      path: ["min_weight"],
    },
  );

const configSchema = z
  .object({
    /** Per-strategy bounds, published to `strategy:bounds` for the gates. */
    strategies: z
      .record(z.string().regex(STRATEGY_NAME, "a strategy name (letters, digits, _ . : -)"), boundsSchema)
      .default({}),
    /** The weights of all strategies together may not exceed this. */
    max_total_weight: weight.default("1"),
    /** `alloc:weights` whose `as_of` is older than this is stale (warn). */
    weights_max_age_ms: z.number().int().min(1_000).default(900_000),
    /** An `as_of` further in the future than this (clock skew) is unreadable. */
    future_tolerance_ms: z.number().int().min(0).default(60_000),
  })
  .strict();

export type StrategyCapsConfig = z.infer<typeof configSchema>;
type Bounds = StrategyCapsConfig["strategies"][string];

type Values = {
  weights: string | null | ReadFailure;
  floor: string | null | ReadFailure;
  lock: string | null | ReadFailure;
  caps: Record<string, string> | ReadFailure;
  published: Record<string, string> | ReadFailure;
};

/** The value of `alloc:weights` (the allocator writes it with one SET; absent = not published yet). */
export const allocWeightsSchema = z.object({
  as_of: z.iso.datetime({ offset: true }),
  weights: z.record(z.string(), z.string()),
  allocator: z.string().optional(),
});

/** The canonical `strategy:bounds` value of one strategy's configured bounds (fixed key order: stable across ticks). */
export function boundsJson(b: Bounds): string {
  const out: Record<string, string> = {};
  for (const k of ["min_weight", "max_weight", "max_gross_notional", "max_position", "max_order_notional"] as const) {
    if (b[k] !== undefined) out[k] = b[k];
  }
  return JSON.stringify(out);
}

type Weights = { asOf: number; weights: Map<string, Decimal>; bad: string[] };

/** alloc:weights → the weights, or why they cannot be used. Pure. */
export function parseWeights(
  raw: string | null | ReadFailure,
  nowMs: number,
  c: StrategyCapsConfig,
): Weights | { missing: true } | { invalid: string } {
  if (raw instanceof ReadFailure) return { invalid: raw.message };
  if (raw === null) return { missing: true };
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return { invalid: `not JSON (${JSON.stringify(raw.slice(0, 60))})` };
  }
  const p = allocWeightsSchema.safeParse(v);
  if (!p.success) {
    const i = p.error.issues[0]!;
    return { invalid: `${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}` };
  }
  const asOf = Date.parse(p.data.as_of);
  if (asOf - nowMs > c.future_tolerance_ms) return { invalid: `as_of ${p.data.as_of} is in the future` };
  const weights = new Map<string, Decimal>();
  const bad: string[] = [];
  for (const [s, w] of Object.entries(p.data.weights)) {
    if (DECIMAL.test(w) && new Decimal(w).lte(1)) weights.set(s, new Decimal(w));
    else bad.push(`${s}: ${JSON.stringify(w.slice(0, 40))}`);
  }
  return { asOf, weights, bad };
}

/** One rule a weight breaks. */
type Violation = { rule: "max_weight" | "min_weight" | "policy_floor" | "event_lock"; limit: Decimal; source: string };

/** Sums and products of weights, exactly: decimal.js's default 20 digits could round a breach away. */
const Exact = Decimal.clone({ precision: 1_000 });

const pct = (d: Decimal) => `${d.mul(100).toFixed()}%`;

/** The strategy_caps guard (YAML `guards.strategy_caps`). */
export const strategyCaps = defineGuard<StrategyCapsConfig, Values>({
  name: "strategy_caps",
  schedule: "*/30 * * * * *",
  config: configSchema,
  requires: {
    hint: "set guards.strategy_caps.strategies (per-strategy bounds) or enabled: true once the allocator writes alloc:weights",
  },
  reads: () => ({
    weights: { key: STRATEGY_KEYS.allocWeights, type: "string", schema: z.string().nullable(), onError: "value" },
    floor: { key: POLICY_KEYS.weightFloor, type: "string", schema: z.string().nullable(), onError: "value" },
    lock: { key: MARKET_KEYS.eventLock, type: "string", schema: z.string().nullable(), onError: "value" },
    caps: { key: MARKET_KEYS.strategyCaps, type: "hash", schema: z.record(z.string(), z.string()), onError: "value" },
    published: {
      key: MARKET_KEYS.strategyBounds,
      type: "hash",
      schema: z.record(z.string(), z.string()),
      onError: "value",
    },
  }),
  evaluate(snapshot, now, c) {
    const nowMs = now.getTime();
    const v = snapshot.values;
    const base = { guard: "strategy_caps", sop: SOP_STRATEGY_CAPS };
    const findings: Finding[] = [publishBounds(v.published, c)].filter((f): f is Finding => f !== null);

    const w = parseWeights(v.weights, nowMs, c);
    if ("missing" in w) {
      findings.push({
        ...base,
        key: "strategy_caps:weights_missing",
        severity: "warn",
        title: "Allocator weights not published",
        detail: `${STRATEGY_KEYS.allocWeights} is absent: the allocator's weights cannot be checked against the bounds.`,
      });
      return findings;
    }
    if ("invalid" in w) {
      findings.push({
        ...base,
        key: "strategy_caps:weights_invalid",
        severity: "critical",
        title: "Allocator weights unreadable",
        detail: `${STRATEGY_KEYS.allocWeights}: ${w.invalid}. Expected {"as_of": ISO 8601 with offset, "weights": {strategy: "decimal 0..1"}}.`,
      });
      return findings;
    }
    if (w.bad.length) {
      findings.push({
        ...base,
        key: "strategy_caps:weights_invalid",
        severity: "critical",
        title: `Allocator weights: ${w.bad.length} unreadable entr${w.bad.length === 1 ? "y" : "ies"}`,
        detail: `${w.bad.slice(0, 5).join("; ")}: not a decimal string between 0 and 1. The other weights were checked.`,
      });
    }
    const ageMs = nowMs - w.asOf;
    if (ageMs > c.weights_max_age_ms) {
      findings.push({
        ...base,
        key: "strategy_caps:weights_stale",
        severity: "warn",
        title: "Allocator weights stale",
        detail: `${STRATEGY_KEYS.allocWeights} is as of ${new Date(w.asOf).toISOString()}, ${Math.round(ageMs / 1000)} s ago: the allocator may have stopped.`,
        value: `${Math.round(ageMs / 1000)} s`,
        threshold: `${Math.round(c.weights_max_age_ms / 1000)} s`,
      });
    }
    findings.push(...checkWeights(w, v, nowMs, c));
    return findings;
  },
});

/** Finding that carries the writes bringing `strategy:bounds` in line with the configuration (null: already is). */
function publishBounds(published: Values["published"], c: StrategyCapsConfig): Finding | null {
  const base = { guard: "strategy_caps", sop: SOP_STRATEGY_CAPS };
  const desired = Object.fromEntries(Object.entries(c.strategies).map(([s, b]) => [s, boundsJson(b)]));
  const flags: FlagChange = { op: "publish", channel: MARKET_KEYS.flagsChannel, message: MARKET_KEYS.strategyBounds };
  if (published instanceof ReadFailure) {
    // Bot-owned: a value of the wrong type is replaced (gates refuse every strategy's new orders meanwhile).
    const actions: FlagChange[] = [{ op: "del", key: MARKET_KEYS.strategyBounds }];
    if (Object.keys(desired).length) actions.push({ op: "hset", key: MARKET_KEYS.strategyBounds, fields: desired });
    return {
      ...base,
      key: "strategy_caps:bounds_invalid",
      severity: "warn",
      title: `${MARKET_KEYS.strategyBounds} was unreadable: rewritten`,
      detail: `${published.message}. Gates refused every strategy's opening orders (strategy_bounds_invalid) until this tick rewrote it from guards.strategy_caps.strategies.`,
      actions: [...actions, flags],
    };
  }
  const set = Object.fromEntries(Object.entries(desired).filter(([s, json]) => published[s] !== json));
  const del = Object.keys(published).filter((s) => !(s in desired));
  if (!Object.keys(set).length && !del.length) return null;
  const actions: FlagChange[] = [];
  if (Object.keys(set).length) actions.push({ op: "hset", key: MARKET_KEYS.strategyBounds, fields: set });
  if (del.length) actions.push({ op: "hdel", key: MARKET_KEYS.strategyBounds, fields: del });
  return {
    ...base,
    key: "strategy_caps:bounds_published",
    severity: "info",
    title: "Strategy bounds published",
    detail: [
      Object.keys(set).length ? `set: ${Object.keys(set).sort().join(", ")}` : "",
      del.length ? `removed: ${del.sort().join(", ")}` : "",
    ]
      .filter(Boolean)
      .join("; "),
    actions: [...actions, flags],
  };
}

/** Findings for every weight that breaks a rule, and for the total. Pure. */
function checkWeights(w: Weights, v: Values, nowMs: number, c: StrategyCapsConfig): Finding[] {
  const base = { guard: "strategy_caps", sop: SOP_STRATEGY_CAPS };
  const findings: Finding[] = [];
  const floor = parseFloor(v.floor);
  if ("invalid" in floor) {
    findings.push({
      ...base,
      key: "strategy_caps:floor_unreadable",
      severity: "warn",
      title: "Policy weight floor unreadable",
      detail: `${POLICY_KEYS.weightFloor}: ${floor.invalid}; the policy_floor rule was not checked.`,
    });
  }
  const lock = parseLock(v.lock, nowMs);
  if ("invalid" in lock) {
    findings.push({
      ...base,
      key: "strategy_caps:event_lock_unreadable",
      severity: "warn",
      title: "Event lock unreadable",
      detail: `${MARKET_KEYS.eventLock}: ${lock.invalid}; the event_lock rule was not checked (gates allow no new exposure meanwhile).`,
    });
  }
  const inForce = "lock" in lock ? lock.lock : null;
  const floorValue = "value" in floor ? floor.value : null;
  const tags = capsTags(v.caps);
  const asOf = new Date(w.asOf).toISOString();
  const names = [...new Set([...Object.keys(c.strategies), ...w.weights.keys()])].sort();
  for (const s of names) {
    const b = c.strategies[s];
    const weight = w.weights.get(s) ?? new Decimal(0);
    const shown = w.weights.has(s) ? weight.toFixed() : "0 (absent)";
    const maxW = b?.max_weight !== undefined ? new Decimal(b.max_weight) : null;
    const rules: Violation[] = [];
    const cfg = `guards.strategy_caps.strategies.${s}`;
    if (maxW && weight.gt(maxW)) rules.push({ rule: "max_weight", limit: maxW, source: `${cfg}.max_weight` });
    if (b?.min_weight !== undefined && weight.lt(b.min_weight))
      rules.push({ rule: "min_weight", limit: new Decimal(b.min_weight), source: `${cfg}.min_weight` });
    if (floorValue && weight.lt(floorValue))
      rules.push({
        rule: "policy_floor",
        limit: floorValue,
        source: `${POLICY_KEYS.weightFloor} (RL policy watchdog)`,
      });
    const lockLimit = inForce && !exempt(s, tags, inForce.exempt) ? new Exact(inForce.cap).mul(maxW ?? 1) : null;
    if (lockLimit && weight.gt(lockLimit))
      rules.push({
        rule: "event_lock",
        limit: lockLimit,
        source: `${MARKET_KEYS.eventLock} ${inForce!.event} (${pct(inForce!.cap)} of ${maxW ? `max_weight ${maxW.toFixed()}` : "a full weight"})`,
      });
    const conflict =
      lockLimit && floorValue?.gt(lockLimit)
        ? ` No weight satisfies both the policy floor ${floorValue.toFixed()} and the event-lock limit ${lockLimit.toFixed()}: the lock is the risk limit; raise max_weight or accept the floor finding until the window ends.`
        : "";
    for (const r of rules) {
      const over = r.rule === "max_weight" || r.rule === "event_lock";
      findings.push({
        ...base,
        key: `strategy_caps:weight:${s}:${r.rule}`,
        severity: over ? "critical" : "warn",
        title: `Allocator weight of ${s} breaks ${r.rule}: ${shown} ${over ? ">" : "<"} ${r.limit.toFixed()}`,
        detail: `Rule ${r.rule} (${r.source}): the weight must be ${over ? "at most" : "at least"} ${r.limit.toFixed()}; ${STRATEGY_KEYS.allocWeights} as of ${asOf} gives ${s} ${shown}.${r.rule === "policy_floor" || r.rule === "event_lock" ? conflict : ""}`,
        value: shown,
        threshold: `${over ? "≤" : "≥"} ${r.limit.toFixed()}`,
      });
    }
  }
  const total = [...w.weights.values()].reduce((a, x) => a.add(x), new Exact(0));
  if (total.gt(c.max_total_weight)) {
    findings.push({
      ...base,
      key: "strategy_caps:weights_total",
      severity: "critical",
      title: `Allocator weights sum to ${total.toFixed()} (> ${c.max_total_weight})`,
      detail: `Rule max_total_weight (guards.strategy_caps.max_total_weight): the weights of ${STRATEGY_KEYS.allocWeights} as of ${asOf} add up to ${total.toFixed()}.`,
      value: total.toFixed(),
      threshold: `≤ ${c.max_total_weight}`,
    });
  }
  return findings;
}

/** policy:weight_floor → the floor (null: not set), or why it is unreadable. */
function parseFloor(raw: string | null | ReadFailure): { value: Decimal | null } | { invalid: string } {
  if (raw instanceof ReadFailure) return { invalid: raw.message };
  if (raw === null) return { value: null };
  const t = raw.trim();
  if (!DECIMAL.test(t) || new Decimal(t).gt(1))
    return { invalid: `${JSON.stringify(raw.slice(0, 40))} is not a weight` };
  return { value: new Decimal(t) };
}

type Lock = { event: string; cap: Decimal; exempt: string[] };

/** risk:event_lock → the lock in force at `nowMs` (null: none), or why it is unreadable. */
function parseLock(raw: string | null | ReadFailure, nowMs: number): { lock: Lock | null } | { invalid: string } {
  if (raw instanceof ReadFailure) return { invalid: raw.message };
  if (raw === null) return { lock: null };
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return { invalid: "not JSON" };
  }
  const p = eventLockSchema.safeParse(v);
  if (!p.success) return { invalid: p.error.issues[0]?.message ?? "invalid" };
  if (Date.parse(p.data.until) <= nowMs) return { lock: null };
  return { lock: { event: p.data.event, cap: new Decimal(String(p.data.cap)), exempt: p.data.exempt } };
}

/** strategy:caps → strategy → its tags (matched against the lock's `exempt`, as the gate does; unreadable: none). */
function capsTags(raw: Values["caps"]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (raw instanceof ReadFailure) return out;
  for (const [s, json] of Object.entries(raw)) {
    try {
      const t = (JSON.parse(json) as { tags?: unknown }).tags;
      if (Array.isArray(t))
        out.set(
          s,
          t.filter((x): x is string => typeof x === "string"),
        );
    } catch {
      // Unreadable entry: no tags, so no exemption (the stricter reading).
    }
  }
  return out;
}

function exempt(s: string, tags: Map<string, string[]>, ex: string[]): boolean {
  return ex.includes(s) || (tags.get(s) ?? []).some((t) => ex.includes(t));
}
