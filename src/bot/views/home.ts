// Block Kit for the App Home tab: the /status summary with a header, the time it was read ("as of HH:MM:SS ET",
// since the tab stays on screen while the state moves on), a Refresh button and the runbook. A Home tab holds up to
// 100 blocks (src/notify.ts, SLACK_LIMITS.surfaceBlocks): fitHome() cuts to that.
import type { HomeView, KnownBlock } from "@slack/types";
import type { StatusView } from "../../ops/status.js";
import { ids } from "../ids.js";
import { code, context, header, sopRef } from "./common.js";
import { fitHome } from "./limits.js";
import { statusBlocks } from "./status.js";

const ET = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/** "14:30:05 ET": the wall-clock time on the desk's clock (New York), for the "as of" line. */
export function etTime(at: Date): string {
  return `${ET.format(at)} ET`;
}

/** The context line that dates a Home view; the republisher leaves it out when it compares two views. */
export const AS_OF_PREFIX = ":clock3: as of ";

/** A Home tab as the views build it: Slack's HomeView with blocks Slack knows. */
export type HomeTab = Omit<HomeView, "blocks"> & { blocks: KnownBlock[] };

/** The Home tab for `s`, read at `asOf`. */
export function homeView(s: StatusView, asOf: Date, runbookUrl?: string): HomeTab {
  return fitHome([
    header("tradeguard"),
    context(`${AS_OF_PREFIX}${etTime(asOf)} · updates on its own when the mode, alerts or a panic change`),
    ...statusBlocks(s),
    {
      type: "actions",
      block_id: "home_actions",
      elements: [
        {
          type: "button",
          action_id: ids.statusRefresh,
          text: { type: "plain_text", text: "Refresh" },
          value: "refresh",
        },
      ],
    },
    context(
      `${sopRef(runbookUrl, s.mode === "active" ? "sop-panic" : "sop-resume", s.mode === "active" ? "SOP: Panic" : "SOP: Resume")} · ${code("/runbook")} lists every SOP`,
    ),
  ]);
}
