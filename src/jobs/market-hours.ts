// Market-hours guard: the NYSE session (src/market/calendar.ts, NYSE Rule 7.2) as a flag, and the announcements the
// desk needs. Each tick it computes the session from the calendar plus the desk's run-time closures
// (`market:closures`), writes `market:state` and publishes on `flags` when the session opens or closes — so orders
// outside the session are suppressed (the gate refuses them from its own copy of the calendar; `market:state` is for
// readers without the gate) and trading resumes by itself at the open. It announces an early close from the trading
// day before until that close, and any unscheduled closure the desk declared for today or the next trading day.
import { z } from "zod";
import {
  type CalendarDay,
  calendarDay,
  closuresFromHash,
  marketStatus,
  NY_ZONE,
  nextTradingDay,
  nyDate,
} from "../market/calendar.js";
import { MARKET_KEYS } from "../state/keys.js";
import { defineGuard, type Finding, type FlagChange } from "./guard.js";

export const SOP_MARKET_HOURS = "sop-market-hours";

const configSchema = z.object({}).strict();
export type MarketHoursConfig = z.infer<typeof configSchema>;

type Values = { closures: Record<string, string>; state: Record<string, string> };
type Probe = { at: number };

/** The `market:state` hash for an instant (all fields strings, as Redis stores them). */
export function marketStateFields(at: Date, closures: ReadonlyMap<string, string>): Record<string, string> {
  const s = marketStatus(at, closures);
  return {
    open: s.open ? "1" : "0",
    session: s.session,
    date: s.date,
    opens: s.opens ? s.opens.toISOString() : "",
    closes: s.closes ? s.closes.toISOString() : "",
    reason: s.reason ?? "",
  };
}

function label(d: Date): string {
  return `${d.toLocaleString("en-US", { timeZone: NY_ZONE, dateStyle: "medium", timeStyle: "short" })} ET`;
}

export const marketHoursGuard = defineGuard<MarketHoursConfig, Values, Probe>({
  name: "market_hours",
  schedule: "*/15 * * * * *",
  config: configSchema,
  reads: () => ({
    // Fields are checked one by one in evaluate: one bad field must not hide the calendar.
    closures: { key: MARKET_KEYS.closures, type: "hash", schema: z.record(z.string(), z.string()) },
    state: { key: MARKET_KEYS.marketState, type: "hash", schema: z.record(z.string(), z.string()) },
  }),
  probe: async (_c, ctx) => ({ at: ctx.now.getTime() }),
  evaluate(snapshot, now) {
    const base = { guard: "market_hours", sop: SOP_MARKET_HOURS };
    const findings: Finding[] = [];
    const { closures, invalid } = closuresFromHash(snapshot.values.closures);
    const fields = marketStateFields(now, closures);
    const current = snapshot.values.state;
    const changed = Object.entries(fields).some(([k, v]) => current[k] !== v);
    const actions: FlagChange[] = [];
    if (changed) {
      actions.push({ op: "hset", key: MARKET_KEYS.marketState, fields });
      // Only an open/close flip (or a first write) needs the gates to re-read at once.
      if (current.open !== fields.open || current.date !== fields.date) {
        actions.push({
          op: "publish",
          channel: MARKET_KEYS.flagsChannel,
          message: JSON.stringify({ key: MARKET_KEYS.marketState, by: "market_hours", ts: now.toISOString() }),
        });
      }
    }
    const status = marketStatus(now, closures);
    findings.push({
      ...base,
      key: "market_hours:session",
      severity: "info",
      title: status.open
        ? `Market open (${status.session})`
        : `Market closed${status.reason ? `: ${status.reason}` : ""}`,
      detail: status.open
        ? `NYSE regular session until ${label(status.closes!)}.`
        : `Orders on US equities are suppressed outside the session; trading resumes by itself at the open.`,
      value: fields.open,
      actions: actions.length ? actions : undefined,
    });

    const today = calendarDay(nyDate(now), closures);
    const next = calendarDay(nextTradingDay(today.date, closures), closures);
    const announce = (day: CalendarDay, when: "today" | "on the next trading day") => {
      if (day.session === "early_close" && day.closes && now.getTime() < day.closes.getTime()) {
        findings.push({
          ...base,
          key: `market_hours:early_close:${day.date}`,
          severity: "warn",
          title: `Early close ${when}: NYSE closes at 13:00 ET on ${day.date}`,
          detail: `${day.reason}. The session ends at ${label(day.closes)}; the LULD closing period (doubled bands for Tier 1 and Tier 2 ≤ $3.00) starts 25 minutes before. Flatten or hand over anything that must not be held overnight before then.`,
          value: day.date,
        });
      }
    };
    announce(today, "today");
    announce(next, "on the next trading day");
    for (const [date, reason] of closures) {
      if (date !== today.date && date !== next.date && date !== nextTradingDay(today.date)) continue;
      const day = calendarDay(date, closures);
      if (day.source !== "runtime") continue;
      findings.push({
        ...base,
        key: `market_hours:closure:${date}`,
        severity: "warn",
        title: `Unscheduled closure on ${date}: ${reason}`,
        detail: `market:closures declares ${date} closed (${reason}). Orders are suppressed all that day; the next session opens ${label(calendarDay(nextTradingDay(date, closures), closures).opens!)}.`,
        value: date,
      });
    }
    if (invalid.length) {
      findings.push({
        ...base,
        key: "market_hours:closures_invalid",
        severity: "warn",
        title: "market:closures has fields that are not dates",
        detail: `Ignored: ${invalid
          .slice(0, 5)
          .map((f) => JSON.stringify(f))
          .join(
            ", ",
          )}${invalid.length > 5 ? ", ..." : ""}. Fields must be YYYY-MM-DD (New York date), values the reason.`,
      });
    }
    return findings;
  },
  metrics: [
    { name: "tradeguard_market_open", help: "1 while the NYSE regular session is open (calendar + market:closures)" },
  ],
  measure(snapshot) {
    const at = snapshot.probe?.at;
    if (at === undefined) return [];
    const { closures } = closuresFromHash(snapshot.values.closures);
    return [{ name: "tradeguard_market_open", value: marketStatus(new Date(at), closures).open ? 1 : 0 }];
  },
});
