// Terminal output: colour through node:util styleText, only where it helps and only where it is wanted — a TTY,
// NO_COLOR unset (https://no-color.org), or FORCE_COLOR set — and tables with a header whose columns line up
// whatever colour codes the cells hold.
import { styleText } from "node:util";

type Style = Parameters<typeof styleText>[0];

/** Whether `stream` gets colour: FORCE_COLOR (not "0") wins, then NO_COLOR (any value), then "is it a terminal". */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout, env = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return Boolean(stream.isTTY) && env.TERM !== "dumb";
}

/** `text` in `style` when colour is enabled for `stream`, else as is. */
export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return colorEnabled(stream) ? styleText(style, text) : text;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point
const ANSI = /\u001b\[[0-9;]*m/g;
const visible = (s: string) => s.replace(ANSI, "").length;

/** A plain-text table: a header row, a rule, the rows; columns padded to their widest visible cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - visible(c))))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join("\n");
}
