// Terminal output: colour through node:util styleText, only where it helps and only where it is wanted (colorEnabled
// in src/log.ts, which the pretty log lines follow too: a TTY, NO_COLOR unset (https://no-color.org), or FORCE_COLOR
// set), and tables with a header whose columns line up whatever colour codes the cells hold.
import { styleText } from "node:util";
import { colorEnabled } from "../log.js";

type Style = Parameters<typeof styleText>[0];

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
  return [line(header.map((h) => paint("bold", h))), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join(
    "\n",
  );
}
