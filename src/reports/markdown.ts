// A report as Markdown (the file saved beside its JSON and charts, and what `tradeguard report` prints), and the
// few lines posted with the charts in Slack. Every number comes from the report object; nothing is computed here
// except formatting.
import { formatDuration, type MonthlyReport, type Report, type Section, type WeeklyReport } from "./model.js";

/** How a chart appears in the Markdown: the image file beside it, or why there is none. */
export type ChartRef = { id: string; title: string } & ({ file: string } | { noData: string } | { notDrawn: true });

const cell = (s: string | number | null | undefined) =>
  s === null || s === undefined || s === "" ? "—" : String(s).replace(/\|/g, "\\|").replace(/\n/g, " ");

function table(head: string[], rows: (string | number | null)[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");
}

function chart(charts: ChartRef[], id: string): string {
  const c = charts.find((x) => x.id === id);
  if (!c) return "";
  if ("file" in c) return `![${c.title}](${c.file})`;
  return "noData" in c
    ? `_Chart "${c.title}": no data — ${c.noData}._`
    : `_Chart "${c.title}": not drawn here (\`--out DIR\` writes it)._`;
}

/** The body of a section, or its "no data" line. */
function body<T>(s: Section<T>, render: (d: T) => string): string {
  if (s.status === "no_data") return `_No data: ${s.reason}._`;
  if (s.status === "unreadable") return `**Unreadable:** ${s.reason}. See the problems below.`;
  return [render(s.data), ...s.notes.map((n) => `> ${n}`)].join("\n\n");
}

const ms = (v: number | null) => (v === null ? "—" : formatDuration(v));

function weekly(r: WeeklyReport, charts: ChartRef[]): string[] {
  const s = r.sections;
  return [
    "## Guards fired",
    body(s.guards, (d) =>
      [
        `${d.critical} critical and ${d.warn} warn alerts opened; ${d.escalated} escalated.`,
        table(
          ["guard", "critical", "warn", "escalated"],
          d.rows.map((x) => [x.guard, x.critical, x.warn, x.escalated]),
        ),
      ].join("\n\n"),
    ),
    chart(charts, "alerts-by-guard"),
    "## Alerts and time to acknowledge",
    body(s.alerts, (d) =>
      [
        `${d.opened} opened, ${d.acknowledged} acknowledged, ${d.unacknowledged} not acknowledged by the end of the period, ${d.resolved} resolved.`,
        `Time to acknowledge (nearest rank, ${d.tta.samples} acknowledged): p50 **${ms(d.tta.p50Ms)}**, p90 **${ms(d.tta.p90Ms)}**, slowest ${ms(d.tta.maxMs)}.`,
        table(
          ["opened", "guard", "severity", "alert", "acknowledged by", "after"],
          [...d.items]
            .sort((a, b) => (b.ttaMs ?? Number.POSITIVE_INFINITY) - (a.ttaMs ?? Number.POSITIVE_INFINITY))
            .slice(0, 15)
            .map((i) => [i.openedAt, i.guard, i.severity, i.title, i.ackedBy ?? "not acknowledged", ms(i.ttaMs)]),
        ),
        d.items.length > 15 ? `_${d.items.length - 15} more in the JSON report._` : "",
      ]
        .filter(Boolean)
        .join("\n\n"),
    ),
    chart(charts, "time-to-acknowledge"),
    "## Halts and resumes",
    body(s.halts, (d) =>
      [
        `${d.halts.length} halt(s); halted ${formatDuration(d.haltedMsInPeriod)} in the period.`,
        table(
          ["halted at", "panic", "by", "reason", "verdict", "flat after", "resumed at", "halted for", "soak"],
          d.halts.map((h) => [
            `${h.haltedAt}${h.startedBefore ? " (before the period)" : ""}`,
            h.panicId,
            h.actor,
            h.reason,
            h.status,
            ms(h.flatMs),
            h.resumedAt ?? "still halted",
            `${formatDuration(h.haltedMs)}${h.resumedAt ? "" : " so far"}`,
            h.soakMs === null ? (h.resumedAt ? "in progress" : "—") : formatDuration(h.soakMs),
          ]),
        ),
      ].join("\n\n"),
    ),
    chart(charts, "halts"),
    "## Recon",
    body(s.recon, (d) =>
      [
        `${d.runs.length} run(s): ${d.ok} ok, ${d.mismatched} mismatch, ${d.couldNotReconcile} could not reconcile.`,
        table(
          ["trade date", "broker", "result", "mismatches", "errors", "ran at"],
          d.runs.map((x) => [
            x.date,
            x.broker ?? "all",
            x.ok ? "ok" : x.errors ? "could not reconcile" : "MISMATCH",
            x.mismatches,
            x.errors,
            x.at,
          ]),
        ),
      ].join("\n\n"),
    ),
    chart(charts, "recon"),
    "## Key ages",
    body(s.keys, (d) =>
      [
        `As of ${d.asOf}; a key older than ${d.maxAgeDays} days is due for rotation.`,
        table(
          ["broker", "CURRENT key", "age (days)", "due", "pending", "previous"],
          d.brokers.map((b) => [
            b.broker,
            b.keyId ?? "none",
            b.ageDays,
            b.due ? "**due**" : "no",
            b.pending,
            b.previous,
          ]),
        ),
      ].join("\n\n"),
    ),
    chart(charts, "key-ages"),
    "## Error-budget burn",
    body(s.errorBudget, (d) =>
      table(
        ["SLO", "target", "good / total", "burn rate", "budget left (rolling)", "spent"],
        d.rows.map((x) => [
          x.slo,
          `${x.target} % over ${x.periodDays} d`,
          `${x.good} / ${x.total}`,
          x.burnRate === null ? (x.state === "unreadable" ? "unreadable" : "no events") : `${x.burnRate}×`,
          x.leftPct,
          x.spent ? "**spent**" : "no",
        ]),
      ),
    ),
    chart(charts, "error-budget"),
  ];
}

function monthly(r: MonthlyReport, charts: ChartRef[]): string[] {
  const s = r.sections;
  return [
    "## Costs against budget",
    body(s.costs, (d) =>
      [
        `Spent in ${d.month}: ${d.totals.map((t) => `${t.spent} ${t.currency}`).join(", ")}.`,
        table(
          ["source", "spent", "monthly budget", "% of budget", "month-end forecast", "daily budget", "days over it"],
          d.rows.map((x) => [
            x.source,
            `${x.spent} ${x.currency}`,
            x.monthlyBudget,
            x.pctOfBudget === null ? null : `${x.pctOfBudget} %`,
            x.forecast === null ? null : `${x.forecast} (${x.forecastFrom === "writer" ? "source" : "run rate"})`,
            x.dailyBudget,
            x.daysOverDailyBudget,
          ]),
        ),
      ].join("\n\n"),
    ),
    chart(charts, "costs"),
    "## P&L by strategy",
    body(s.pnl, (d) =>
      [
        `Net realized ${d.net}.`,
        table(
          ["strategy", "realized", "fees", "net", "fills"],
          d.rows.map((x) => [x.strategy, x.realized, x.fees, x.net, x.fills]),
        ),
      ].join("\n\n"),
    ),
    chart(charts, "pnl"),
    "## Slippage",
    body(s.slippage, (d) =>
      table(
        ["strategy", "fills", "mean bps", "weighted bps", "adverse", "favourable", "min", "max", "adverse cost"],
        d.rows.map((x) => [
          x.strategy,
          x.fills,
          x.meanBps,
          x.weightedBps,
          x.adverse,
          x.favourable,
          x.minBps,
          x.maxBps,
          x.cost,
        ]),
      ),
    ),
    chart(charts, "slippage"),
    "## Caps hit",
    body(s.caps, (d) =>
      table(
        ["strategy", "rule", "times"],
        d.rows.map((x) => [x.strategy, x.rule, x.count]),
      ),
    ),
    chart(charts, "caps"),
  ];
}

/** The whole report as Markdown. */
export function reportMarkdown(r: Report, charts: ChartRef[]): string {
  const head = [
    `# ${r.title}`,
    `${r.period.from} → ${r.period.to} (${r.period.startDate} to ${r.period.endDate}, ${r.period.zone})${r.period.partial ? " — **partial: the period has not ended**" : ""}. Generated ${r.generatedAt}.`,
  ];
  const parts = r.kind === "weekly" ? weekly(r, charts) : monthly(r, charts);
  const problems = r.problems.length
    ? ["## Problems while gathering", ...r.problems.map((p) => `- ${p}`), "See RUNBOOK.md#sop-report."]
    : [];
  return `${[...head, ...parts, ...problems].filter(Boolean).join("\n\n")}\n`;
}

/** The few lines posted with the charts: one per section, plain text (the notifier escapes it). */
export function reportSummary(r: Report): string[] {
  const line = <T>(name: string, s: Section<T>, f: (d: T) => string) =>
    `• ${name}: ${s.status === "ok" ? f(s.data) : s.status === "no_data" ? `no data (${s.reason})` : `unreadable (${s.reason})`}`;
  if (r.kind === "weekly") {
    const s = r.sections;
    return [
      line("Guards", s.guards, (d) => `${d.critical} critical, ${d.warn} warn alerts, ${d.escalated} escalated`),
      line(
        "Alerts",
        s.alerts,
        (d) => `${d.opened} opened, ${d.acknowledged} acknowledged (p50 ${ms(d.tta.p50Ms)}, p90 ${ms(d.tta.p90Ms)})`,
      ),
      line("Halts", s.halts, (d) => `${d.halts.length}, halted ${formatDuration(d.haltedMsInPeriod)} in total`),
      line("Recon", s.recon, (d) => `${d.runs.length} runs, ${d.ok} ok, ${d.runs.length - d.ok} not ok`),
      line("Keys", s.keys, (d) => `${d.brokers.filter((b) => b.due).length} of ${d.brokers.length} due for rotation`),
      line("Error budget", s.errorBudget, (d) =>
        d.rows
          .map((x) => `${x.slo} ${x.burnRate === null ? "no events" : `${x.burnRate}×`}${x.spent ? " (spent)" : ""}`)
          .join(", "),
      ),
    ];
  }
  const s = r.sections;
  return [
    line(
      "Costs",
      s.costs,
      (d) =>
        `${d.totals.map((t) => `${t.spent} ${t.currency}`).join(", ")}${d.rows
          .filter((x) => x.pctOfBudget !== null)
          .map((x) => `; ${x.source} at ${x.pctOfBudget} % of budget`)
          .join("")}`,
    ),
    line("P&L", s.pnl, (d) => `net ${d.net} across ${d.rows.length} strateg${d.rows.length === 1 ? "y" : "ies"}`),
    line("Slippage", s.slippage, (d) => d.rows.map((x) => `${x.strategy} mean ${x.meanBps} bps`).join(", ")),
    line("Caps hit", s.caps, (d) => `${d.total} time(s)`),
  ];
}
