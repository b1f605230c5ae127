// App Home: the status dashboard, published when someone opens the tab.
import type { App } from "@slack/bolt";
import { statusView } from "../bot/views/status.js";
import type { Runtime } from "../main.js";

/** Registers the app_home_opened handler. */
export function register(app: App, rt: Runtime): void {
  app.event("app_home_opened", async ({ event, client }) => {
    if (event.tab !== "home") return;
    const view = statusView(await rt.ops.status());
    await client.views.publish({ user_id: event.user, view: { type: "home", blocks: view.blocks as never } });
  });
}
