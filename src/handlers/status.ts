// /status: the one-screen summary.
import type { App } from "@slack/bolt";
import { statusView } from "../bot/views/status.js";
import type { Runtime } from "../main.js";

/** Registers /status. */
export function register(app: App, rt: Runtime): void {
  app.command("/status", async ({ ack, respond }) => {
    await ack();
    await respond({ response_type: "ephemeral", ...statusView(await rt.ops.status()) });
  });
}
