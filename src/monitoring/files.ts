// The files `npm run gen:monitoring` writes (scripts/gen-monitoring.ts) and test/monitoring/generated.test.ts compares
// with the checked-in ones: the Prometheus rules and the Grafana dashboard, rendered with the documented defaults.
import { CHECKED_IN, type RenderOptions } from "./config.js";
import { renderDashboard } from "./dashboard.js";
import { renderRules } from "./rules.js";

/** Paths (relative to the repository root) of the generated files. */
export const GENERATED = {
  rules: "monitoring/tradeguard-rules.yml",
  dashboard: "monitoring/grafana/tradeguard.json",
} as const;

/** Every generated file and its content. */
export function generatedFiles(opts: RenderOptions = CHECKED_IN): Record<string, string> {
  return { [GENERATED.rules]: renderRules(opts), [GENERATED.dashboard]: renderDashboard(opts) };
}
