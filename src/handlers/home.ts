// App Home: the status dashboard, published when someone opens the tab or presses Refresh; opening it also puts the
// user on the list the republisher (src/bot/home-publisher.ts) keeps current when the state changes.
import type { BlockAction, ButtonAction } from "@slack/bolt";
import type { SlackHandler } from "../bot/handler.js";
import { homeDeps, homeOpened } from "../bot/home-publisher.js";
import { ids } from "../bot/ids.js";

export const homeHandler: SlackHandler = {
  name: "home",
  register(app, rt) {
    app.event("app_home_opened", async ({ event, client }) => {
      if (event.tab !== "home") return;
      await homeOpened(homeDeps(rt, client), event.user);
    });
    app.action<BlockAction<ButtonAction>>(ids.statusRefresh, async ({ ack, body, client }) => {
      await ack();
      await homeOpened(homeDeps(rt, client), body.user.id);
    });
  },
};
