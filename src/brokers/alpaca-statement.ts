// The live Alpaca statement of one trade date (issue #11: `tradeguard recon --broker NAME` for a `kind: alpaca`
// broker): the account activities, page by page, and GET /v2/positions rolled back to the date's close. It lives in
// src/brokers because it drives the adapter; validating and reading the entries is src/recon/statement-alpaca.ts.
//
// GET /v2/positions is the book *now*. To get the book at the date's close the activities are fetched from before the
// date until now, and the FILLs of later dates are undone (AlpacaStatementBuilder `rollBackPositions`); a later
// split, merger, journal or other position-changing activity makes that impossible, and the statement says so.
// A fill booked between the last activities page and the positions call would be counted on one side only and shows
// as a `position` difference (a re-run settles it): run after the extended-hours session when the account trades late.
import { DateTime } from "luxon";
import { UsageError } from "../errors.js";
import { type AlpacaStatement, AlpacaStatementBuilder } from "../recon/statement-alpaca.js";
import { isCalendarDate, TRADE_DATE_ZONE } from "../recon/trade-date.js";
import type { ActivitiesQuery, AlpacaBroker } from "./alpaca.js";
import { withRetry } from "./retry.js";

export interface FetchStatementOptions {
  signal?: AbortSignal;
  /** Transient failures (429, 5xx, timeouts) of a call are retried until then (epoch ms); default 2 min from now. */
  deadline?: number;
  /** After each activities page (a progress bar). */
  onPage?: (progress: { pages: number; activities: number }) => void;
  /** For tests: the current time (epoch ms). */
  now?: number;
}

/**
 * The GET /v2/account/activities filter for `date`: after the New York start of the day before, until now. The day
 * before is included because non-trade activities (FEE, CFEE, …) carry a date rather than a time and Alpaca's ids
 * stamp some of them in the small hours UTC, which is the evening before in New York; entries of other dates are
 * read, counted and not compared.
 */
export function activitiesWindow(date: string): ActivitiesQuery {
  const start = DateTime.fromISO(date, { zone: TRADE_DATE_ZONE }).minus({ days: 1 }).startOf("day");
  return { after: start.toUTC().toISO({ suppressMilliseconds: true })! };
}

/** Fetches the Alpaca statement of `date` (America/New_York, YYYY-MM-DD) live from a configured alpaca broker. */
export async function fetchAlpacaStatement(
  broker: AlpacaBroker,
  date: string,
  opts: FetchStatementOptions = {},
): Promise<AlpacaStatement> {
  if (!isCalendarDate(date)) throw new UsageError(`date: not a calendar date YYYY-MM-DD (${JSON.stringify(date)})`);
  const now = opts.now ?? Date.now();
  const today = DateTime.fromMillis(now, { zone: TRADE_DATE_ZONE }).toISODate()!;
  if (date > today) throw new UsageError(`date: ${date} is after today (${today} in New York)`);
  const deadline = opts.deadline ?? now + 120_000;
  const { signal } = opts;
  const b = new AlpacaStatementBuilder({ date, rollBackPositions: true });
  let pages = 0;
  let n = 0;
  for await (const rows of broker.activities(activitiesWindow(date), { signal, deadline })) {
    for (const raw of rows) b.activity(raw, `GET /v2/account/activities[${n++}]`);
    opts.onPage?.({ pages: ++pages, activities: n });
  }
  const positions = await withRetry(() => broker.positionsRaw({ signal }), { deadline, signal });
  b.positionsSupplied();
  for (const [i, raw] of positions.entries()) b.position(raw, `GET /v2/positions[${i}]`);
  return b.finish();
}
