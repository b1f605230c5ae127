// Feature-store version guard (issue 15 §18). A model is only valid on the features it was trained on: when the
// feature store's live schema moves on (a column renamed, a window changed, a normalisation fixed), a model trained
// on the old one keeps producing numbers — wrong ones. Each strategy's model declares the feature-schema version (a
// hash) it was trained on in `model:feature_schema`; the feature store publishes the version it serves per feature set
// in `feature_store:schema`. Every tick the guard compares them, and for every strategy whose versions differ — or
// cannot be compared (declaration or live version unreadable or missing, or a required strategy that declares none)
// — raises a critical finding and sets `strategy:blocked` (source `feature_schema`): every gate then refuses that
// strategy's opening orders (`strategy_blocked: feature schema …`; reducing orders still pass, never trapping a
// position). When the versions agree again the guard lifts its block. Both changes go through the runner, which
// applies them atomically with a `PUBLISH <prefix>flags` and audits each (`flag.changed`, actor guard:feature_schema).

import { strategyRestrictionSchema } from "@tradeguard/gate";
import { z } from "zod";
import { MARKET_KEYS, STRATEGY_KEYS } from "../state/keys.js";
import { defineGuard, type Finding, type FlagChange, ReadFailure } from "./guard.js";

export const SOP_FEATURE_SCHEMA = "sop-feature-schema";
/** The `source` of the blocks this guard sets (it lifts only its own). */
export const FEATURE_SCHEMA_SOURCE = "feature_schema";

const STRATEGY_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

const configSchema = z
  .object({
    /** Strategies that must declare their model's version: without a declaration they are blocked. */
    require: z.array(z.string().regex(STRATEGY_NAME, "a strategy name")).default([]),
  })
  .strict();
export type FeatureSchemaConfig = z.infer<typeof configSchema>;

const version = z.string().trim().min(1).max(200);
/** A value of `model:feature_schema` (field: the strategy), written when a model is deployed for it. */
export const modelDeclarationSchema = z.object({
  model: z.string().min(1),
  feature_set: z.string().min(1),
  version,
  trained_at: z.iso.datetime({ offset: true }).optional(),
});
/** A value of `feature_store:schema` (field: the feature set), written by the feature store when it publishes one. */
export const liveSchemaSchema = z.object({ version, published_at: z.iso.datetime({ offset: true }).optional() });

type Hash = Record<string, string> | ReadFailure;
type Values = { declared: Hash; live: Hash; blocked: Hash };

const hashRead = (key: string) =>
  ({ key, type: "hash", schema: z.record(z.string(), z.string()), onError: "value" }) as const;

function parse<T extends z.ZodType>(json: string, schema: T): z.infer<T> | { invalid: string } {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return { invalid: "not JSON" };
  }
  const p = schema.safeParse(v);
  if (p.success) return p.data as z.infer<T>;
  const i = p.error.issues[0]!;
  return { invalid: `${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}` };
}

/** A strategy the guard wants blocked, and the finding that says why. */
type Block = { reason: string; finding: Omit<Finding, "guard" | "sop"> };

/** Which strategies must be blocked and why (Pure). `keepAll`: the declarations are unreadable, lift nothing. */
export function assessFeatureSchema(
  v: Values,
  c: FeatureSchemaConfig,
): { blocks: Map<string, Block>; keepAll: boolean; notes: Finding[] } {
  const base = { guard: "feature_schema", sop: SOP_FEATURE_SCHEMA };
  const blocks = new Map<string, Block>();
  const notes: Finding[] = [];
  const block = (s: string, key: string, title: string, reason: string, detail: string) =>
    blocks.set(s, {
      reason,
      finding: { key: `feature_schema:${key}:${s}`, severity: "critical", title, detail: `${reason}. ${detail}` },
    });

  if (v.declared instanceof ReadFailure) {
    notes.push({
      ...base,
      key: "feature_schema:declarations_unreadable",
      severity: "critical",
      title: `${STRATEGY_KEYS.modelFeatureSchema} unreadable`,
      detail: `${v.declared.message}. No model's version can be checked: existing blocks stay, required strategies are blocked.`,
    });
    for (const s of c.require)
      block(
        s,
        "undeclared",
        `${s}: model feature schema unknown`,
        `feature schema unknown: ${STRATEGY_KEYS.modelFeatureSchema} is unreadable`,
        "Fix the key (format: docs/redis-keys.md).",
      );
    return { blocks, keepAll: true, notes };
  }
  if (v.live instanceof ReadFailure) {
    notes.push({
      ...base,
      key: "feature_schema:store_unreadable",
      severity: "critical",
      title: `${STRATEGY_KEYS.featureStoreSchema} unreadable`,
      detail: `${v.live.message}. Every strategy that declares a model is blocked until the feature store's versions can be read.`,
    });
  }
  const live = v.live instanceof ReadFailure ? null : v.live;
  for (const [s, json] of Object.entries(v.declared)) {
    const d = parse(json, modelDeclarationSchema);
    if ("invalid" in d) {
      block(
        s,
        "declaration_invalid",
        `${s}: model declaration unreadable`,
        `feature schema unknown: the ${STRATEGY_KEYS.modelFeatureSchema} entry of ${s} is unreadable (${d.invalid})`,
        'Expected {"model","feature_set","version","trained_at"?}.',
      );
      continue;
    }
    const trained = `model ${d.model} of strategy ${s} was trained on feature set ${d.feature_set} version ${d.version}`;
    if (!live) {
      block(
        s,
        "live_unknown",
        `${s}: live feature schema unknown`,
        `feature schema unknown: ${STRATEGY_KEYS.featureStoreSchema} is unreadable; ${trained}`,
        "Fix the feature store's key.",
      );
      continue;
    }
    const raw = live[d.feature_set];
    if (raw === undefined) {
      block(
        s,
        "live_unknown",
        `${s}: feature set ${d.feature_set} not published`,
        `feature schema unknown: the feature store publishes no version of feature set ${d.feature_set}; ${trained}`,
        `The feature store writes it to ${STRATEGY_KEYS.featureStoreSchema}.`,
      );
      continue;
    }
    const l = parse(raw, liveSchemaSchema);
    if ("invalid" in l) {
      block(
        s,
        "live_unknown",
        `${s}: live feature schema unreadable`,
        `feature schema unknown: the ${STRATEGY_KEYS.featureStoreSchema} entry of ${d.feature_set} is unreadable (${l.invalid}); ${trained}`,
        'Expected {"version","published_at"?}.',
      );
      continue;
    }
    // Versions are hashes: compared without regard to case (hex digits).
    if (l.version.toLowerCase() !== d.version.toLowerCase()) {
      block(
        s,
        "mismatch",
        `${s}: feature schema mismatch`,
        `feature schema mismatch: ${trained}, the feature store serves ${l.version}${l.published_at ? ` (published ${l.published_at})` : ""}`,
        "Redeploy a model trained on the live schema, or roll the feature store back.",
      );
    }
  }
  for (const s of c.require) {
    if (!(s in v.declared))
      block(
        s,
        "undeclared",
        `${s}: no model feature schema declared`,
        `feature schema undeclared: strategy ${s} must declare its model's feature-schema version in ${STRATEGY_KEYS.modelFeatureSchema}`,
        "guards.feature_schema.require lists it.",
      );
  }
  return { blocks, keepAll: false, notes };
}

/** The feature-store version guard (YAML `guards.feature_schema`). */
export const featureSchema = defineGuard<FeatureSchemaConfig, Values>({
  name: "feature_schema",
  schedule: "*/30 * * * * *",
  config: configSchema,
  requires: {
    hint: "set guards.feature_schema.enabled: true (or require: [strategies]) once models declare model:feature_schema",
  },
  reads: () => ({
    declared: hashRead(STRATEGY_KEYS.modelFeatureSchema),
    live: hashRead(STRATEGY_KEYS.featureStoreSchema),
    blocked: hashRead(MARKET_KEYS.strategyBlocked),
  }),
  evaluate(snapshot, now, c) {
    const base = { guard: "feature_schema", sop: SOP_FEATURE_SCHEMA };
    const v = snapshot.values;
    const { blocks, keepAll, notes } = assessFeatureSchema(v, c);
    const findings: Finding[] = [...notes, ...[...blocks.values()].map((b) => ({ ...base, ...b.finding }))];
    if (v.blocked instanceof ReadFailure) {
      // Not bot-owned alone (its contract allows other sources): a person fixes it. Gates block every strategy meanwhile.
      findings.push({
        ...base,
        key: "feature_schema:blocked_unreadable",
        severity: "critical",
        title: `${MARKET_KEYS.strategyBlocked} unreadable`,
        detail: `${v.blocked.message}. Gates refuse every strategy's opening orders until it is a hash again; the guard cannot set or lift blocks.`,
      });
      return findings;
    }
    const current = new Map(Object.entries(v.blocked).map(([s, json]) => [s, parse(json, strategyRestrictionSchema)]));
    const garbled = [...current].filter(([, cur]) => "invalid" in cur).map(([s]) => s);
    if (garbled.length) {
      findings.push({
        ...base,
        key: "feature_schema:blocked_entry_invalid",
        severity: "warn",
        title: `${MARKET_KEYS.strategyBlocked}: ${garbled.length} unreadable entr${garbled.length === 1 ? "y" : "ies"}`,
        detail: `${garbled.sort().join(", ")}: gates block these strategies' opening orders. The guard rewrites an entry it needs; otherwise fix or HDEL it (format {"reason","source","since"}).`,
      });
    }
    const set: Record<string, string> = {};
    const held: string[] = [];
    for (const [s, b] of blocks) {
      const cur = current.get(s);
      const ours = cur && !("invalid" in cur) && cur.source === FEATURE_SCHEMA_SOURCE ? cur : null;
      if (ours?.reason === b.reason) continue;
      if (cur && !("invalid" in cur) && !ours) {
        held.push(`${s} (already blocked by ${cur.source})`);
        continue;
      }
      set[s] = JSON.stringify({
        reason: b.reason,
        source: FEATURE_SCHEMA_SOURCE,
        since: ours?.since ?? now.toISOString(),
      });
    }
    const lift = keepAll
      ? []
      : [...current]
          .filter(([s, cur]) => !blocks.has(s) && !("invalid" in cur) && cur.source === FEATURE_SCHEMA_SOURCE)
          .map(([s]) => s)
          .sort();
    const actions: FlagChange[] = [];
    if (Object.keys(set).length) actions.push({ op: "hset", key: MARKET_KEYS.strategyBlocked, fields: set });
    if (lift.length) actions.push({ op: "hdel", key: MARKET_KEYS.strategyBlocked, fields: lift });
    if (actions.length) {
      actions.push({ op: "publish", channel: MARKET_KEYS.flagsChannel, message: MARKET_KEYS.strategyBlocked });
      findings.push({
        ...base,
        key: "feature_schema:blocks_changed",
        severity: "info",
        title: "Feature-schema blocks changed",
        detail: [
          Object.keys(set).length ? `blocked: ${Object.keys(set).sort().join(", ")}` : "",
          lift.length ? `lifted (versions agree again): ${lift.join(", ")}` : "",
        ]
          .filter(Boolean)
          .join("; "),
        actions,
      });
    }
    if (held.length) {
      findings.push({
        ...base,
        key: "feature_schema:held_by_other",
        severity: "info",
        title: "Feature-schema block not written: another source holds it",
        detail: `${held.join(", ")}: the strategy is blocked either way; the guard writes its own reason once that block is lifted.`,
      });
    }
    return findings;
  },
});
