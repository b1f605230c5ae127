// The pre-trade gate: the library trading processes import (`import { createGate } from "@tradeguard/gate"`) to check
// every order in-process against tradeguard's flags. tradeguard's guards decide; the gate is how trading processes
// obey. `check()` never touches the network: it answers from an in-process copy of the flags that Redis pub/sub
// keeps fresh (the `mode` channel and the `flags` channel), backed by a poll of the mode and the bot heartbeat
// (`pollMs`) and a full re-read (`refreshMs`, and on every `flags` message and every reconnect), because pub/sub is
// fire-and-forget. When the gate cannot trust its copy (Redis unreachable, data older than `maxStalenessMs`, or the
// full re-read failing for longer than `flagsMaxAgeMs` while the poll still succeeds) it fails safe: halt (or
// reduce-only, by option). A key of the wrong type among the flags is applied strictly (docs/gate.md) instead of
// failing the whole re-read; a `mode` of the wrong type is halt, seen by the next poll. When the bot's heartbeat is
// stale, unreadable or in the future it fails safe to reduce-only (the dead-man's switch: no bot is alive to relay a
// /panic).
//
// It is its own package (packages/gate, `@tradeguard/gate`) so a trading process installs only what it loads:
// ioredis, zod, luxon, decimal.js and the pure modules beside it (the key schema, the NYSE calendar, PDT, locates);
// it never imports the bot. docs/gate.md is the manual.
//
// This file is the public API (the package's `.` export, re-exported by the bot as `tradeguard/gate`; its types in
// types.ts, their defaults in options.ts).
// The machinery is in gate-impl.ts (connections, subscription, poll and re-read, trust in the copy), what it reads in
// reads.ts, the flags' parsers in flags.ts and strategy-flags.ts, and the decision for one order in decide.ts (its
// rules in rules-*.ts).
import { GateImpl } from "./gate-impl.js";
import type { Gate, GateOptions } from "./types.js";

export { KEY_SCHEMA_VERSION, MARKET_KEYS, STRATEGY_KEYS } from "../state/keys.js";
export type { CheckResult, OrderCheck, Side } from "./decide-types.js";
export type { GateFlags } from "./flags.js";
export {
  type CutoverState,
  type StrategyBoundsValue,
  type StrategyRestriction,
  strategyRestrictionSchema,
} from "./strategy-flags.js";
export type { Gate, GateOptions, GateView } from "./types.js";

/** Creates a gate, subscribes, reads every flag once (up to `readyTimeoutMs`) and returns it. */
export async function createGate(opts: GateOptions = {}): Promise<Gate> {
  const gate = new GateImpl(opts);
  await gate.start();
  return gate;
}
