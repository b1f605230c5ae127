// The shapes of the monitoring-as-code model: alert rules (rendered by rules.ts) and dashboard panels (laid out by
// dashboard.ts). Types only, so the files that define rules and panels and the files that render them share them
// without importing each other.

export interface AlertRule {
  alert: string;
  /** PromQL; may query only catalogued metrics (test/monitoring/generated.test.ts). */
  expr: string;
  /** Prometheus duration the expression must hold before the alert fires; "0s" fires at the first evaluation. */
  for: string;
  severity: "warning" | "critical";
  /** Labels besides severity (e.g. the guard the rule mirrors). */
  labels?: Record<string, string>;
  /** Alert templates (Go text/template with Prometheus's functions): one line for people. */
  summary: string;
  description: string;
  /** RUNBOOK.md anchor of the SOP. */
  sop: string;
  /** A comment written above the rule in the YAML. */
  comment?: string;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

export interface Mapping {
  text: string;
  color: string;
}

/** One panel as dashboard-panels.ts writes it: what it shows, not where. */
export interface PanelSpec {
  type: "stat" | "timeseries" | "state-timeline";
  title: string;
  description: string;
  /** Width in grid columns (1-24) and height in grid rows. */
  w: number;
  h: number;
  targets: { expr: string; legend?: string }[];
  unit?: string;
  /** Value → text and colour (e.g. 2 → HALT, red). */
  mappings?: Record<number, Mapping>;
  /** Threshold steps, lowest first; the first has value null (the base colour). */
  thresholds?: { color: string; value: number | null }[];
  min?: number;
  max?: number;
  /** RUNBOOK.md anchor of the SOP this panel belongs to (a panel link). */
  sop?: string;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}
