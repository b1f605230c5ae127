// Role checks, one place for Slack and the CLI: `roles.<role>` lists user ids (Slack ids, or cli:<os user>) or "*".
import type { Role } from "../config.js";
import { NotAuthorizedError } from "../errors.js";
import { audit, type OpsDeps } from "./deps.js";

/** The bot itself (its scheduled jobs): not a person, never a Slack or CLI identity (those are validated ids). */
export const SYSTEM_ACTOR = "tradeguard";

/** True when `actor` holds `role`. */
export function hasRole(roles: Record<Role, string[]>, actor: string, role: Role): boolean {
  if (actor === SYSTEM_ACTOR) return true;
  const list = roles[role];
  return list.includes("*") || list.includes(actor);
}

/** Throws NotAuthorizedError (and audits the attempt) unless `actor` holds `role`. */
export async function authorize(
  deps: Pick<OpsDeps, "config" | "audit" | "metrics" | "log">,
  actor: string,
  role: Role,
  action: string,
): Promise<void> {
  if (hasRole(deps.config.roles, actor, role)) return;
  await audit(deps, { actor, action: "auth.denied", details: { role, attempted: action } }).catch((err) =>
    deps.log.error({ err }, "could not audit a denied attempt"),
  );
  throw new NotAuthorizedError(
    `You are not in the \`${role}\` role, so you cannot do this (${action}). Ask an admin to add you to roles.${role}.`,
  );
}
