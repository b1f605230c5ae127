// A command declared in manifest.yml that this version does not implement yet: answered plainly, never silently.

import type { SlackHandler } from "../bot/handler.js";
import type { Role } from "../config.js";

/** A handler that answers `command` with "not available in this version yet". */
export function unavailable(command: `/${string}`, role: Role | null): SlackHandler {
  return {
    name: command.slice(1),
    command,
    role,
    onCommand:
      () =>
      async ({ ack }) => {
        await ack({
          response_type: "ephemeral",
          text: `\`${command}\` is not available in this version of tradeguard yet.`,
        });
      },
  };
}
