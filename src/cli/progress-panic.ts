// `tradeguard panic`'s progress: "halt flag set ✓ (2 ms)" the moment Redis took it, then each broker's cancel, close
// and verify as they happen, on stderr (src/cli/progress.ts: a live line of what is pending on a terminal, plain
// lines elsewhere). A panic this request joined is followed through its report instead: one line per broker done.
import type { PanicReport } from "../ops/panic-report.js";
import type { PanicStep } from "../ops/panic-steps.js";
import { duration, type Progress, plural } from "./progress.js";

const DOING: Record<"halt" | "cancelled" | "closed" | "verified", string> = {
  halt: "cancelling orders",
  cancelled: "closing positions",
  closed: "verifying",
  verified: "cancelling again",
};

/** Follows one panic: pass `onStep` and `onProgress` to PanicOperation.halt, call `start()` before it, `done()` after. */
export class PanicProgress {
  /** What each broker still being flattened is doing (absent: done). */
  private readonly pending = new Map<string, string>();
  /** Brokers whose outcome was printed from a joined panic's report. */
  private readonly reported = new Set<string>();
  private joined = false;
  private halted = false;
  private started = 0;

  constructor(
    private readonly p: Progress,
    private readonly brokers: string[],
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.started = this.now();
    this.p.tick(() => this.line());
  }

  done(): void {
    this.p.done();
  }

  /** The live line: what is pending, and for how long. */
  line(): string {
    const t = duration(this.now() - this.started);
    if (!this.halted && !this.joined) return `setting the halt flag… ${t}`;
    const what = [...this.pending].map(([b, doing]) => `${b}: ${doing}`).join(" · ");
    return `${this.joined ? "following the running panic" : "halting"}${what ? ` · ${what}` : ""} · ${t}`;
  }

  readonly onStep = (s: PanicStep): void => {
    const p = this.p;
    // When it happened (since the panic began), with the round when it is not the first.
    const at = (round = 1) => `(${duration(this.now() - this.started)}${round > 1 ? `, round ${round}` : ""})`;
    switch (s.step) {
      case "halt":
        if (s.haltFlag === "not_set") {
          p.step(
            `halt flag NOT set ${p.fail()} (${duration(s.ms)}): ${s.error}; flattening through the brokers anyway`,
          );
        } else p.step(`halt flag set ${s.late ? "late " : ""}${p.ok()} (${duration(s.ms)})`);
        if (!this.halted) for (const b of this.brokers) this.pending.set(b, DOING.halt);
        this.halted = true;
        return;
      case "joined":
        this.joined = true;
        p.step(`a panic is already running (${s.panicId}): following it`);
        for (const b of this.brokers) this.pending.set(b, "flattening");
        return;
      case "cancelled":
      case "closed": {
        const noun = s.step === "cancelled" ? "order" : "position";
        const verb = s.step === "cancelled" ? "cancel" : "close";
        const failed = s.failed > 0 ? `, ${s.failed} failed ${p.fail()}` : "";
        p.step(`${s.broker}: ${verb} ${s.failed > 0 ? "" : `${p.ok()} `}${plural(s.ok, noun)}${failed} ${at(s.round)}`);
        this.pending.set(s.broker, DOING[s.step]);
        return;
      }
      case "verified": {
        if (s.flat) {
          p.step(`${s.broker}: verify ${p.ok()} flat ${at(s.round)}`);
          this.pending.delete(s.broker);
          return;
        }
        const left =
          s.orders === null || s.positions === null
            ? "could not re-query"
            : `${plural(s.orders, "order")} and ${plural(s.positions, "position")} left`;
        p.step(`${s.broker}: verify ${p.fail()} ${left} ${at(s.round)}`);
        this.pending.set(s.broker, DOING.verified);
        return;
      }
      case "retry":
        p.step(
          `${s.broker}: ${s.op} failed (${s.error}) ${p.warn()} retry ${s.attempt} in ${duration(s.waitMs)} ${at()}`,
        );
        this.pending.set(s.broker, `retrying ${s.op}`);
        return;
      case "failover":
        p.step(`${s.broker}: endpoint ${s.from} failed (${s.error}) ${p.warn()} now on ${s.to} ${at()}`);
        return;
    }
  };

  /** A joined panic's report as it progresses: one line per broker once it is done (own panics use onStep). */
  readonly onProgress = (r: PanicReport): void => {
    if (!this.joined) return;
    for (const b of r.brokers) {
      if (this.reported.has(b.broker)) continue;
      this.reported.add(b.broker);
      this.pending.delete(b.broker);
      const what = `${plural(b.cancelled.length, "order")} cancelled, ${plural(b.closed.length, "position")} closed`;
      this.p.step(
        b.verified
          ? `${b.broker}: verified flat ${this.p.ok()} (${what})`
          : `${b.broker}: NOT verified flat ${this.p.fail()} (${what}; ${b.errors[0] ?? "see the report"})`,
      );
    }
  };
}
