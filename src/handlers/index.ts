// Every Slack handler, listed once. A new command = its operation, its handler file, its view, its CLI file and one
// line here; the Bolt app, the role middleware and the manifest test read this list.
import type { SlackHandler } from "../bot/handler.js";
import { alertsHandler } from "./alerts.js";
import { clearHandler } from "./clear.js";
import { homeHandler } from "./home.js";
import { panicHandler } from "./panic.js";
import { reconHandler } from "./recon.js";
import { rotateHandler } from "./rotate.js";
import { runbookHandler } from "./runbook.js";
import { statusHandler } from "./status.js";

export const handlers: readonly SlackHandler[] = [
  panicHandler,
  clearHandler,
  statusHandler,
  reconHandler,
  rotateHandler,
  runbookHandler,
  alertsHandler,
  homeHandler,
];
