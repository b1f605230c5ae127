// The PromQL reader the catalog checks rely on: it must find every metric an expression selects, and nothing else.
import { describe, expect, it } from "vitest";
import { grafanaToPromql, metricNames } from "./promql.js";

describe("metricNames (Prometheus's lezer grammar)", () => {
  it("finds selectors inside functions, aggregations, binary operators and subqueries", () => {
    expect(
      metricNames(
        'sum by (guard, le) (rate(a_bucket{job="x"}[5m])) / on(instance) group_left(mode) b + max_over_time(c[1h:1m]) offset 5m',
      ),
    ).toEqual(["a_bucket", "b", "c"]);
  });

  it("never reads label names, label values, functions or keywords as metrics", () => {
    const names = metricNames(
      'count by (sum, rate) (up{job="tradeguard_mode", mode=~"halt|tradeguard_redis_up"} == bool 0) unless absent(x) and time() > 0',
    );
    expect(names).toEqual(["up", "x"]);
  });

  it("reads a name given as a __name__ matcher, and refuses one given as a regex", () => {
    expect(metricNames('{__name__="tradeguard_mode", mode="halt"}')).toEqual(["tradeguard_mode"]);
    expect(() => metricNames('{__name__=~"tradeguard_.*"}')).toThrow(/not exact/);
  });

  it("keeps colons (recording rules) and drops duplicates", () => {
    expect(metricNames("job:tradeguard_errors:rate5m + job:tradeguard_errors:rate5m")).toEqual([
      "job:tradeguard_errors:rate5m",
    ]);
  });

  it("throws on a syntax error instead of checking half an expression", () => {
    expect(() => metricNames("sum(rate(x[5m])")).toThrow(/syntax error/);
    expect(() => metricNames("x{job=}")).toThrow(/syntax error/);
  });

  it("turns Grafana's interval variables into durations and leaves template variables in strings alone", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var} syntax, not a JavaScript template
    const expr = grafanaToPromql('rate(x{instance=~"$instance"}[$__rate_interval]) + increase(y[${__range}])');
    expect(expr).toBe('rate(x{instance=~"$instance"}[1m]) + increase(y[1h])');
    expect(metricNames(expr)).toEqual(["x", "y"]);
  });
});
