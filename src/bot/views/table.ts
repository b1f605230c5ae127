// A compact table for a mrkdwn section: a code block with aligned columns (every client renders it, in messages,
// ephemeral replies and Home alike). Cells come from brokers and users: widths are measured on the raw text, then
// each cell is escaped (Slack shows &lt; as <, so the columns stay aligned) and backticks are neutralised so no cell
// can close the code block. Rows beyond `maxRows` are folded into one summary row made by the caller.
import { esc, SLACK_LIMITS } from "../../notify.js";
import { formatFixed, parseFixed } from "../../recon/fixed.js";

export interface Column {
  title: string;
  /** Numbers right, names left. */
  align: "left" | "right";
  /** At most this many characters of a cell (cut with "…"). */
  max: number;
}

/** A cell as shown: one line, backticks neutralised, cut to `max` characters. */
function cell(v: string, max: number): string {
  const one = v.replace(/[\r\n\t]+/g, " ").replace(/`/g, "ʹ");
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Room a table may take in one section (the rest of a section's 3,000 characters is left to a heading). */
export const TABLE_ROOM = SLACK_LIMITS.sectionText - 200;

export interface TableOptions {
  /** Rows shown at most (the last of them standing for the rest when there are more). */
  maxRows: number;
  /** The row that stands for `hidden` rows ("… and 12 more", their sums). */
  rest: (hidden: readonly string[][]) => string[];
  /** Rows after a rule (totals). */
  footer?: string[][];
  /** Characters the code block may take (default TABLE_ROOM); fewer rows are shown until it fits. */
  room?: number;
}

/**
 * The table as a code block. With more than `maxRows` rows, the first `maxRows - 1` are shown and `rest(hidden)`
 * makes the row that stands for the others. Escaped cells can be longer than they look (`<` is sent as `&lt;`):
 * when the block would not fit `room`, fewer rows are shown, so the table is never cut mid-line.
 */
export function codeTable(columns: readonly Column[], rows: readonly string[][], opts: TableOptions): string {
  const room = opts.room ?? TABLE_ROOM;
  for (let max = Math.max(2, opts.maxRows); ; max--) {
    const text = render(columns, rows, { ...opts, maxRows: max });
    if (text.length <= room || max <= 2) return text;
  }
}

function render(columns: readonly Column[], rows: readonly string[][], opts: TableOptions): string {
  const cut = rows.length > opts.maxRows;
  const shown = cut ? [...rows.slice(0, opts.maxRows - 1), opts.rest(rows.slice(opts.maxRows - 1))] : [...rows];
  const all = [columns.map((c) => c.title), ...shown, ...(opts.footer ?? [])].map((r) =>
    columns.map((c, i) => cell(r[i] ?? "", c.max)),
  );
  const width = columns.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => (columns[i]!.align === "right" ? v.padStart(width[i]!) : v.padEnd(width[i]!)))
      .join("  ")
      .trimEnd();
  const rule = width.map((w) => "─".repeat(w)).join("  ");
  const head = all.slice(0, 1 + shown.length).map(line);
  const foot = all.slice(1 + shown.length).map(line);
  const text = [...head, ...(foot.length ? [rule, ...foot] : [])].join("\n");
  return `\`\`\`\n${esc(text)}\n\`\`\``;
}

/** A decimal string with thousands separators, exactly as given ("1234567.50" → "1,234,567.50"); garbage as is. */
export function groupDigits(s: string): string {
  const m = /^([+-]?)(\d+)(\.\d+)?$/.exec(s.trim());
  if (!m) return s;
  return `${m[1]}${m[2]!.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${m[3] ?? ""}`;
}

/** The exact sum of decimal strings, with at least `minDecimals` places; null when one of them is not a decimal. */
export function sumDecimals(values: readonly string[], minDecimals = 2): string | null {
  let total = 0n;
  for (const v of values) {
    const x = parseFixed(v);
    if (typeof x === "string") return null;
    total += x;
  }
  return formatFixed(total, minDecimals);
}

/** Descending by exact decimal value; values that are not decimals sort last (they are shown, never dropped). */
export function byDecimalDesc(a: string, b: string): number {
  const x = parseFixed(a);
  const y = parseFixed(b);
  if (typeof x === "string" || typeof y === "string")
    return (typeof x === "string" ? 1 : 0) - (typeof y === "string" ? 1 : 0);
  return x === y ? 0 : x > y ? -1 : 1;
}
