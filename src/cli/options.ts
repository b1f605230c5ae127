// Typed options: commander parses and checks each value where it is declared (`.argParser`, `.choices`), so a bad
// value is a usage error (exit 2, with the command's usage) before any action runs, never a hand check that each
// command writes (and exits) differently.
import { InvalidArgumentError, Option } from "commander";
import { Decimal } from "decimal.js";
import { DateTime } from "luxon";
import { NY_ZONE } from "../market/calendar.js";

const DECIMAL = /^-?\d+(\.\d+)?$/;

/** A decimal written out (no exponent, no sign on positives): kept as the string the operator typed. */
export function decimalArg(value: string): string {
  if (!DECIMAL.test(value)) throw new InvalidArgumentError("expected a decimal number, e.g. 12.5 or -3");
  return value;
}

/** A decimal greater than zero (a price, a quantity to buy or sell). */
export function positiveDecimalArg(value: string): string {
  if (!DECIMAL.test(value) || new Decimal(value).lte(0))
    throw new InvalidArgumentError("expected a positive decimal number, e.g. 190.25");
  return value;
}

/** An integer parser bounded to [min, max]. */
export function intArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** An ISO-8601 instant; without an offset it is New York time. Parsed to a Date. */
export function instantArg(value: string): Date {
  const dt = DateTime.fromISO(value, { zone: NY_ZONE });
  if (!dt.isValid) throw new InvalidArgumentError("expected an ISO-8601 time, e.g. 2026-12-09T13:50:00-05:00");
  return dt.toJSDate();
}

/** A calendar date YYYY-MM-DD (a trade date, a report period start). */
export function dateArg(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || !DateTime.fromISO(value).isValid)
    throw new InvalidArgumentError("expected a date YYYY-MM-DD");
  return value;
}

/** An option whose value must be one of `values` (listed in --help; anything else is a usage error). */
export function choiceOption(flags: string, description: string, values: readonly string[]): Option {
  return new Option(flags, description).choices(values);
}
