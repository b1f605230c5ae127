// PDT / locate guard: pattern day trading (FINRA Rule 4210(f)(8)(B), or the 2026 intraday margin standard of
// SR-FINRA-2025-017; src/market/pdt.ts) over the accounts in `pdt`, and the Reg SHO Rule 203(b)(1) locate inventory
// (`locates`, `etb`; src/market/locate.ts). It alerts when an account may not open new positions (the gate refuses
// them) or is close to its intraday buying power, when locates or the easy-to-borrow list are unreadable or stale,
// and it removes expired locates.
import { Decimal } from "decimal.js";
import { z } from "zod";
import { closuresFromHash, nyDate } from "../market/calendar.js";
import { ETB_MAX_AGE_MS, locateSchema } from "../market/locate.js";
import { PDT_REGIMES, PDT_WINDOW_DAYS, pdtAccountSchema, pdtStatus } from "../market/pdt.js";
import { MARKET_KEYS } from "../state/keys.js";
import { defineGuard, type Finding, type FlagChange } from "./guard.js";

export const SOP_PDT = "sop-pdt";
export const SOP_LOCATE = "sop-locate";

const configSchema = z
  .object({
    /** FINRA 4210(f)(8)(B) day-trade counting, or the intraday margin standard (confirm each broker's date). */
    regime: z.enum(PDT_REGIMES).default("pdt_4210"),
    /** Warn when intraday exposure reaches this fraction of intraday buying power. */
    intraday_warn_ratio: z.number().gt(0).max(1).default(0.9),
  })
  .strict();
export type PdtLocateConfig = z.infer<typeof configSchema>;

type Values = {
  pdt: Record<string, string>;
  locates: Record<string, string>;
  etb: [string, number][];
  closures: Record<string, string>;
};

const TITLES = {
  pdt_restricted: "restricted: day-trading call not met",
  pdt_min_equity: "pattern day trader below $25,000",
  pdt_would_designate: "one more day trade makes it a pattern day trader (equity below $25,000)",
  intraday_margin: "intraday margin deficit",
} as const;

function parseJson<T extends z.ZodType>(json: string, schema: T): z.infer<T> | null {
  try {
    const p = schema.safeParse(JSON.parse(json));
    return p.success ? (p.data as z.infer<T>) : null;
  } catch {
    return null;
  }
}

export const pdtLocateGuard = defineGuard<PdtLocateConfig, Values>({
  name: "pdt_locate",
  schedule: "0 * * * * *",
  config: configSchema,
  reads: () => ({
    // Entries are validated one by one in evaluate: one bad account must not hide the others.
    pdt: { key: MARKET_KEYS.pdt, type: "hash", schema: z.record(z.string(), z.string()) },
    locates: { key: MARKET_KEYS.locates, type: "hash", schema: z.record(z.string(), z.string()) },
    etb: { key: MARKET_KEYS.etb, type: "zset", schema: z.array(z.tuple([z.string(), z.number()])) },
    closures: { key: MARKET_KEYS.closures, type: "hash", schema: z.record(z.string(), z.string()) },
  }),
  evaluate(snapshot, now, c) {
    const nowMs = now.getTime();
    const today = nyDate(now);
    const { closures } = closuresFromHash(snapshot.values.closures);
    const findings: Finding[] = [];
    const pdtBase = { guard: "pdt_locate", sop: SOP_PDT };
    const locBase = { guard: "pdt_locate", sop: SOP_LOCATE };

    for (const [account, json] of Object.entries(snapshot.values.pdt)) {
      const acct = parseJson(json, pdtAccountSchema);
      if (!acct) {
        findings.push({
          ...pdtBase,
          key: `pdt_locate:pdt_invalid:${account}`,
          severity: "warn",
          title: `pdt record of ${account} unreadable`,
          detail: `${MARKET_KEYS.pdt} ${account} holds ${json.slice(0, 160)}. Gates refuse this account's orders that add exposure until it is fixed (format: docs/gate.md).`,
        });
        continue;
      }
      const st = pdtStatus(acct, today, c.regime, closures);
      if (st.blocked) {
        findings.push({
          ...pdtBase,
          key: `pdt_locate:pdt:${account}`,
          severity: "critical",
          title: `${account}: ${TITLES[st.blocked.code]}`,
          detail: `${st.blocked.reason}. Gates refuse this account's orders that open or increase positions; reducing orders still pass. Regime: ${st.regime}.`,
          value:
            st.regime === "intraday_margin"
              ? st.intradayHeadroom?.toFixed(2)
              : `${st.dayTrades} day trades / ${st.trades} trades`,
          threshold: st.regime === "intraday_margin" ? "headroom > 0" : "$25,000 equity",
        });
      } else if (st.regime === "intraday_margin" && acct.intraday_buying_power !== undefined) {
        const bp = new Decimal(acct.intraday_buying_power);
        const used = new Decimal(acct.intraday_exposure ?? "0");
        if (bp.gt(0) && used.div(bp).gte(c.intraday_warn_ratio)) {
          findings.push({
            ...pdtBase,
            key: `pdt_locate:intraday:${account}`,
            severity: "warn",
            title: `${account}: intraday exposure at ${used.div(bp).mul(100).toFixed(0)}% of intraday buying power`,
            detail: `Exposure $${used.toFixed(2)} of $${bp.toFixed(2)}; the gate caps opening orders at the remaining $${bp.sub(used).toFixed(2)} (intraday margin standard, SR-FINRA-2025-017).`,
            value: `${used.div(bp).mul(100).toFixed(1)}%`,
            threshold: `${c.intraday_warn_ratio * 100}%`,
          });
        }
      } else if (st.regime === "pdt_4210" && st.nextDayTradeDesignates) {
        findings.push({
          ...pdtBase,
          key: `pdt_locate:pdt_near:${account}`,
          severity: "info",
          title: `${account}: ${st.dayTrades} day trades in ${PDT_WINDOW_DAYS} business days`,
          detail: `One more would make it a pattern day trader (FINRA 4210(f)(8)(B)(ii)); equity $${st.equity.toFixed(2)} meets the $25,000 minimum.`,
        });
      }
    }

    const expired: string[] = [];
    const unreadable: string[] = [];
    for (const [id, json] of Object.entries(snapshot.values.locates)) {
      const l = parseJson(json, locateSchema);
      if (!l) unreadable.push(id);
      else if (Date.parse(l.expires_at) <= nowMs) expired.push(id);
    }
    if (unreadable.length) {
      findings.push({
        ...locBase,
        key: "pdt_locate:locates_invalid",
        severity: "warn",
        title: `${unreadable.length} unreadable locate record${unreadable.length === 1 ? "" : "s"}`,
        detail: `Ignored by gates (no locate is the safe reading): ${unreadable.slice(0, 5).join(", ")}${unreadable.length > 5 ? ", ..." : ""}. Format: {"symbol","qty","expires_at","account"?,"broker"?,"source"?}.`,
      });
    }
    if (expired.length) {
      const actions: FlagChange[] = [{ op: "hdel", key: MARKET_KEYS.locates, fields: expired }];
      findings.push({
        ...locBase,
        key: "pdt_locate:locates_expired",
        severity: "info",
        title: `Removed ${expired.length} expired locate${expired.length === 1 ? "" : "s"}`,
        detail: expired.slice(0, 10).join(", "),
        actions,
      });
    }

    // The runner reads a zset ascending by score (ZRANGE WITHSCORES), so the newest entry is the last one. (Spreading
    // the scores into Math.max overflows the call stack for ~100k+ entries.)
    const newest = snapshot.values.etb.at(-1)?.[1];
    if (newest !== undefined) {
      if (nowMs - newest >= ETB_MAX_AGE_MS) {
        findings.push({
          ...locBase,
          key: "pdt_locate:etb_stale",
          severity: "warn",
          title: `Easy-to-borrow list is ${Math.round((nowMs - newest) / 3600_000)} h old`,
          detail: `An easy-to-borrow list older than 24 hours is not reasonable grounds under Reg SHO Rule 203(b)(1): gates now refuse short sales that have no individual locate. Load today's list into ${MARKET_KEYS.etb}.`,
          value: new Date(newest).toISOString(),
          threshold: "24 h",
        });
      }
    }
    return findings;
  },
});
