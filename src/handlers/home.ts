// App Home: the status dashboard, published when someone opens the tab.
import type { SlackHandler } from "../bot/handler.js";
import { statusView } from "../bot/views/status.js";

export const homeHandler: SlackHandler = {
  name: "home",
  register(app, rt) {
    app.event("app_home_opened", async ({ event, client }) => {
      if (event.tab !== "home") return;
      const view = statusView(await rt.ops.status());
      await client.views.publish({ user_id: event.user, view: { type: "home", blocks: view.blocks as never } });
    });
  },
};
