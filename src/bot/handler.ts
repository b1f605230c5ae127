// The contract between the Slack transport and the handlers: each handler file exports one of these, and
// src/handlers/index.ts lists them once. The Bolt app registers them, the role middleware reads `command` and
// `role` from the same list, and a test checks the list against manifest.yml's slash commands.
import type { App } from "@slack/bolt";
import type { Role } from "../config.js";
import type { Runtime } from "../runtime.js";

export interface SlackHandler {
  /** For logs and tests. */
  name: string;
  /** The slash command this handler answers, as declared in manifest.yml; absent for events and buttons only. */
  command?: `/${string}`;
  /** The role the command needs (checked again by the operation itself); null: anyone in the workspace. */
  role?: Role | null;
  /** Registers the listeners on the Bolt app. */
  register(app: App, rt: Runtime): void;
}
