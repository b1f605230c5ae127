// The metric names a PromQL expression queries, read with Prometheus's own grammar (@prometheus-io/lezer-promql, the
// parser of Prometheus's web UI): every vector selector's name (`foo{…}`, or `{__name__="foo"}`), never a label name,
// a label value, a function or a keyword. A syntax error, or a selector whose name is a regex, is an error: such an
// expression cannot be checked against the catalog.
import { parser } from "@prometheus-io/lezer-promql";

/** Grafana's interval variables, replaced by a duration so that a panel's expression parses as PromQL. */
const GRAFANA_INTERVALS: Record<string, string> = {
  __rate_interval: "1m",
  __interval: "1m",
  __range: "1h",
};

/** A Grafana panel expression as plain PromQL: interval variables become durations; `$var` in strings stay as text. */
export function grafanaToPromql(expr: string): string {
  return expr.replace(/\$\{?(__rate_interval|__interval|__range)\}?/g, (_, v: string) => GRAFANA_INTERVALS[v]!);
}

/** Every metric name `expr` selects, in order of appearance (duplicates removed). */
export function metricNames(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  const text = (from: number, to: number) => expr.slice(from, to);
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) throw new Error(`PromQL syntax error at ${cursor.from}: ${JSON.stringify(expr)}`);
    if (cursor.name !== "VectorSelector") continue;
    const node = cursor.node;
    const id = node.getChild("Identifier");
    if (id) {
      names.push(text(id.from, id.to));
      continue;
    }
    // `{__name__="x"}` (or the UTF-8 form `{"x"}`): the name is a matcher.
    const matchers = node.getChild("LabelMatchers");
    let found: string | null = null;
    for (let m = matchers?.firstChild ?? null; m; m = m.nextSibling) {
      if (m.name === "QuotedLabelName") found = JSON.parse(text(m.from, m.to)) as string;
      if (m.name !== "UnquotedLabelMatcher" && m.name !== "QuotedLabelMatcher") continue;
      const label = m.getChild("LabelName") ?? m.getChild("QuotedLabelName");
      const op = m.getChild("MatchOp");
      const value = m.getChild("StringLiteral");
      if (!label || !op || !value || text(label.from, label.to).replace(/"/g, "") !== "__name__") continue;
      if (text(op.from, op.to) !== "=")
        throw new Error(`a selector whose name is not exact cannot be checked: ${JSON.stringify(expr)}`);
      found = JSON.parse(text(value.from, value.to).replace(/^'(.*)'$/, '"$1"')) as string;
    }
    if (!found) throw new Error(`a selector without a metric name cannot be checked: ${JSON.stringify(expr)}`);
    names.push(found);
  } while (cursor.next());
  return [...new Set(names)];
}
