// Acknowledging an open guard alert: who saw it, audited. Shared by the Slack button and (later) the CLI.
import { NotFoundError } from "../errors.js";
import { audit, type OpenAlertView, type OpsDeps } from "./deps.js";

/** Records that `actor` acknowledged the open alert `field` (audited); NotFoundError once it is no longer open. */
export async function acknowledgeAlert(deps: OpsDeps, actor: string, field: string): Promise<OpenAlertView> {
  const alert = await deps.alerts.acknowledge(field, actor);
  if (!alert) throw new NotFoundError("This alert is no longer open (it resolved or was replaced).");
  await audit(deps, {
    actor,
    action: "alert.acknowledged",
    details: { alert: field, title: alert.title, severity: alert.severity },
  });
  return alert;
}
