// Progress of a long operation, on stderr (stdout stays the command's output: the report, or the --json document).
// On a terminal — stderr a TTY, TERM not "dumb", no --json — a live line (a bar, a countdown, what is pending) is
// redrawn in place, at most every `redrawMs`, and each finished step is printed above it as a line that stays.
// Anywhere else (a pipe, a file, a CI log, --json) there is no live line and no escape code: one plain line per
// finished step, nothing more. Colour (the ✓ ✗ ! marks) as colorEnabled (src/log.ts) says: NO_COLOR, FORCE_COLOR, TTY.
import { write } from "node:fs";
import { styleText } from "node:util";
import { colorEnabled } from "../log.js";

/** The part of a stream the renderer uses (process.stderr, or a test's recorder). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
  on?(event: "error", listener: (err: Error) => void): unknown;
}

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** The command prints JSON: steps as plain lines, never a live line. */
  json?: boolean;
  env?: NodeJS.ProcessEnv;
  /** The clock (ms) for throttling, rates and elapsed times. */
  now?: () => number;
  /** Least time between two redraws of the live line (default 100 ms); the latest state is always drawn. */
  redrawMs?: number;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
const CLEAR_LINE = "\r\u001b[2K";
const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";

/** The renderer; `done()` clears the live line and stops its timers (call it before printing the result). */
export class Progress {
  /** Whether a live line is drawn (a terminal, no --json). */
  readonly live: boolean;
  private readonly color: boolean;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly redrawMs: number;
  private shown = false;
  private latest: string | null = null;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private trailing: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private render: (() => string) | null = null;
  private frame = 0;
  private finished = false;
  private broken = false;
  /**
   * A stderr that fails (the reader of its pipe went away: EPIPE) ends the progress, never the command: an 'error'
   * with no listener would kill the process, and this one may be in the middle of flattening every broker. The
   * listener stays for the rest of the (short) CLI process: an error the last write raises after done() is as
   * harmless.
   */
  private readonly onError = () => {
    this.broken = true;
    this.done();
  };

  constructor(opts: ProgressOptions = {}) {
    const env = opts.env ?? process.env;
    this.stream = opts.stream ?? process.stderr;
    this.now = opts.now ?? Date.now;
    this.redrawMs = opts.redrawMs ?? 100;
    this.live = Boolean(this.stream.isTTY) && env.TERM !== "dumb" && !opts.json;
    // With --json, stderr is treated as a log: colour only when FORCE_COLOR asks for it.
    this.color = colorEnabled(opts.json ? { isTTY: false } : this.stream, env);
    this.stream.on?.("error", this.onError);
  }

  /** A mark, in colour where colour is wanted (decided here: styleText is told not to second-guess it). */
  ok(text = "✓"): string {
    return this.color ? styleText("green", text, { validateStream: false }) : text;
  }
  fail(text = "✗"): string {
    return this.color ? styleText("red", text, { validateStream: false }) : text;
  }
  warn(text = "!"): string {
    return this.color ? styleText("yellow", text, { validateStream: false }) : text;
  }

  /** A finished step: one line that stays (on a terminal, printed above the live line, which is then redrawn). */
  step(text: string): void {
    if (this.finished) return;
    const line = this.color ? text : text.replace(ANSI, "");
    if (!this.live) {
      this.write(`${line}\n`);
      return;
    }
    this.write(`${this.shown ? CLEAR_LINE : ""}${line}\n`);
    this.shown = false;
    // Redrawn below the step, from the ticker's render when there is one: the step may have changed what it says.
    if (this.render) this.latest = this.rendered();
    if (this.latest !== null) this.draw();
  }

  /** The live line (terminal only), redrawn at most every `redrawMs`; a skipped state is drawn once that time is up. */
  status(text: string): void {
    if (!this.live || this.finished) return;
    this.latest = text;
    const wait = this.lastDraw + this.redrawMs - this.now();
    if (wait <= 0) {
      this.draw();
      return;
    }
    this.trailing ??= setTimeout(() => {
      this.trailing = null;
      this.draw();
    }, wait).unref();
  }

  /** Redraws the live line from `render`, with a spinner, every `everyMs` until done() (elapsed times, countdowns). */
  tick(render: () => string, everyMs = 250): void {
    if (!this.live || this.finished) return;
    this.render = render;
    const show = () => {
      this.frame++;
      this.status(this.rendered());
    };
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = setInterval(show, everyMs).unref();
    this.status(this.rendered());
  }

  private rendered(): string {
    return `${SPINNER[this.frame % SPINNER.length]} ${this.render?.() ?? ""}`;
  }

  /** Clears the live line and stops the timers; later calls draw nothing. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.trailing) clearTimeout(this.trailing);
    this.ticker = this.trailing = null;
    if (this.shown) this.write(CLEAR_LINE);
    this.shown = false;
  }

  private write(chunk: string): void {
    if (this.broken) return;
    try {
      this.stream.write(chunk);
    } catch {
      this.onError(); // a stream closed under us: stop drawing, carry on
    }
  }

  private draw(): void {
    if (this.latest === null || this.finished) return;
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = null;
    this.lastDraw = this.now();
    // Never wider than the terminal: a wrapped line could not be cleared in place.
    // A pseudo-terminal nobody sized reports 0 columns: assume the classic 80.
    const width = Math.max(10, (this.stream.columns || 80) - 1);
    const chars = [...this.latest.replace(ANSI, "")];
    const text = chars.length > width ? `${chars.slice(0, width - 1).join("")}…` : chars.join("");
    this.write(`${CLEAR_LINE}${text}`);
    this.shown = true;
  }
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** A duration for people: "0.4 ms", "2 ms", "4.1 s", "2 m 05 s", "1 h 02 m". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 10) return `${Math.round(ms * 10) / 10} ms`;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3_600)} h ${String(Math.floor(s / 60) % 60).padStart(2, "0")} m`;
}

/** Time left, as a clock: "4:07", "1:02:03" (rounded up: "0:00" only when it is over). */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1_000));
  const mmss = `${Math.floor(s / 60) % 60}:${String(s % 60).padStart(2, "0")}`;
  return s >= 3_600 ? `${Math.floor(s / 3_600)}:${mmss.padStart(5, "0")}` : mmss;
}

/**
 * A progress bar: `[████████░░░░░░░░░░░░]  41% 410,000/1,000,000 entries · 68,321/s · ETA 9.0 s`; without a total,
 * only the count and the rate. The rate is the average since the start (steady, unlike an instantaneous one).
 */
export function bar(done: number, total: number | null, elapsedMs: number, unit: string, width = 20): string {
  const rate = elapsedMs > 0 ? (done * 1_000) / elapsedMs : 0;
  const speed = rate > 0 ? `${int.format(rate)}/s` : "—/s";
  if (total === null || total <= 0) return `${int.format(done)} ${unit} · ${speed}`;
  const frac = Math.min(1, Math.max(0, done / total));
  const full = Math.round(frac * width);
  const eta = rate > 0 ? duration(((total - Math.min(done, total)) * 1_000) / rate) : "—";
  return `[${"█".repeat(full)}${"░".repeat(width - full)}] ${`${Math.floor(frac * 100)}%`.padStart(4)} ${int.format(done)}/${int.format(total)} ${unit} · ${speed} · ETA ${eta}`;
}

/** A count with its noun: "1 order", "3 orders", "1,204 positions". */
export function plural(n: number, noun: string): string {
  return `${int.format(n)} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * A stderr for the panic's progress whose writes never block the event loop. On Linux a write to a terminal is
 * synchronous: a terminal that stops reading (Ctrl-S, a stalled SSH session) would freeze the process mid-flatten.
 * Here each chunk goes to the descriptor through libuv's thread pool (fs.write), one at a time and in order; while
 * one is stuck, at most `maxQueued` chunks wait and older live-line redraws are dropped first (a step line is kept
 * as long as there is room). `writeFn` is for tests.
 */
export function nonBlockingStream(
  base: Pick<ProgressStream, "isTTY" | "columns"> = process.stderr,
  fd = 2,
  maxQueued = 64,
  writeFn: (fd: number, chunk: string, cb: (err: Error | null) => void) => void = (f, c, cb) =>
    write(f, c, (err) => cb(err)),
): ProgressStream & { pending(): number; drained(maxMs: number): Promise<void> } {
  const queue: string[] = [];
  let busy = false;
  let failed: Error | null = null;
  const listeners: ((err: Error) => void)[] = [];
  const pump = () => {
    const next = queue.shift();
    if (next === undefined || failed) {
      busy = false;
      return;
    }
    busy = true;
    writeFn(fd, next, (err) => {
      if (err) {
        failed = err;
        queue.length = 0;
        for (const l of listeners) l(err);
      }
      pump();
    });
  };
  return {
    get isTTY() {
      return base.isTTY;
    },
    get columns() {
      return base.columns;
    },
    write(chunk: string) {
      if (failed) return false;
      if (queue.length >= maxQueued) {
        // Full: drop the oldest redraw of the live line (it starts with \r), else the oldest chunk.
        const redraw = queue.findIndex((c) => c.startsWith("\r") && !c.includes("\n"));
        queue.splice(Math.max(redraw, 0), 1);
      }
      queue.push(chunk);
      if (!busy) pump();
      return true;
    },
    on(_event: "error", listener: (err: Error) => void) {
      listeners.push(listener);
      return this;
    },
    pending: () => queue.length + (busy ? 1 : 0),
    /** Resolves once everything queued is written, or after `maxMs` (a terminal that is not reading). */
    async drained(maxMs: number) {
      const until = Date.now() + maxMs;
      while ((busy || queue.length) && !failed && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    },
  };
}
