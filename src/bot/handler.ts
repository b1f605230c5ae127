// The contract between the Slack transport and the handlers: each handler file exports one of these, and
// src/handlers/index.ts lists them once. The Bolt app registers them, the role middleware reads `command` and
// `role` from the same list, and a test checks the list against manifest.yml's slash commands.
import type { AllMiddlewareArgs, App, SlackCommandMiddlewareArgs } from "@slack/bolt";
import type { Role } from "../config.js";
import type { Runtime } from "../runtime.js";

/** The listener of a slash command (registered by the app under the handler's `command`). */
export type CommandListener = (args: SlackCommandMiddlewareArgs & AllMiddlewareArgs) => Promise<void>;

export interface SlackHandler {
  /** For logs and tests. */
  name: string;
  /**
   * The slash command this handler answers, as declared in manifest.yml — the one place the string is written: the
   * app registers `onCommand` under it, the role middleware and the manifest test read it.
   */
  command?: `/${string}`;
  /** The role the command needs (checked again by the operation itself); null: anyone in the workspace. */
  role?: Role | null;
  /** The command's listener. */
  onCommand?(rt: Runtime): CommandListener;
  /** Registers the other listeners (buttons, events) on the Bolt app. */
  register?(app: App, rt: Runtime): void;
}
