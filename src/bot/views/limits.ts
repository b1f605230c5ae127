// Fitting Block Kit to Slack's limits: the last step of every view. Slack refuses a message that breaks a Block Kit
// limit (invalid_blocks) and truncates a long `text` without saying where, so every view ends with fitMessage() (or
// fitHome() for the App Home tab) and every cut says how much it left out: "… (1,048,576 more characters)". The
// limits themselves, with their sources, and the text cutting live in src/notify.ts: the bottom layer, because
// SlackNotifier needs them too. The types are Slack's own (@slack/types), so a block Slack does not know is a
// compile error, not an invalid_blocks at 09:31.
import type {
  ActionsBlockElement,
  ContextBlockElement,
  HomeView,
  KnownBlock,
  MrkdwnElement,
  SectionBlockAccessory,
  TextObject,
} from "@slack/types";
import { SLACK_LIMITS as LIMITS, truncate } from "../../notify.js";

/** A Block Kit block, as the views build them: one Slack knows (@slack/types). */
export type Block = KnownBlock;

/** What every message view returns: the fallback `text` (escaped) and the blocks. */
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

/** An identifier-like value (button value, url, action_id, block_id): cut hard, since no one reads it. */
const clip = (v: string, max: number) => (v.length > max ? v.slice(0, max) : v);

const mrkdwn = (text: string): MrkdwnElement => ({ type: "mrkdwn", text });

/** A text object (mrkdwn or plain_text) with its text cut to `max`. */
function fitText<T extends TextObject>(t: T, max: number): T {
  return { ...t, text: truncate(t.text, max) };
}

/** A button's text, value, url and action_id within the button element's limits; other elements pass unchanged. */
function fitElement<E extends ActionsBlockElement | SectionBlockAccessory>(e: E): E {
  if (e.type !== "button") return e;
  return {
    ...e,
    text: fitText(e.text, LIMITS.buttonText),
    ...(e.value !== undefined ? { value: clip(e.value, LIMITS.buttonValue) } : {}),
    ...(e.url !== undefined ? { url: clip(e.url, LIMITS.buttonUrl) } : {}),
    ...(e.action_id !== undefined ? { action_id: clip(e.action_id, LIMITS.actionId) } : {}),
  };
}

/** A context element: its text cut to the context cap (images pass unchanged). */
function fitContextElement(e: ContextBlockElement): ContextBlockElement {
  return e.type === "mrkdwn" || e.type === "plain_text" ? fitText(e, LIMITS.contextText) : e;
}

/** `items` capped at `max`, the last kept slot saying how many were left out (made by `note`). */
function capList<T>(items: T[], max: number, note: (hidden: number) => T): T[] {
  if (items.length <= max) return items;
  return [...items.slice(0, max - 1), note(items.length - max + 1)];
}

/** One block within its own limits (texts, fields, elements, buttons). Blocks of other types pass unchanged. */
function fitBlock(b: KnownBlock): KnownBlock[] {
  const id = b.block_id !== undefined ? { block_id: clip(b.block_id, LIMITS.blockId) } : {};
  switch (b.type) {
    case "section":
      return [
        {
          ...b,
          ...id,
          ...(b.text ? { text: fitText(b.text, LIMITS.sectionText) } : {}),
          ...(b.fields
            ? {
                fields: capList<TextObject>(b.fields, LIMITS.sectionFields, (n) => mrkdwn(`… and ${n} more`)).map((f) =>
                  fitText(f, LIMITS.fieldText),
                ),
              }
            : {}),
          ...(b.accessory ? { accessory: fitElement(b.accessory) } : {}),
        },
      ];
    case "header":
      return [{ ...b, ...id, text: fitText(b.text, LIMITS.headerText) }];
    case "context":
      return [
        {
          ...b,
          ...id,
          elements: capList<ContextBlockElement>(b.elements, LIMITS.contextElements, (n) =>
            mrkdwn(`… and ${n} more`),
          ).map(fitContextElement),
        },
      ];
    case "actions": {
      const hidden = b.elements.length - LIMITS.actionsElements;
      const out: KnownBlock = { ...b, ...id, elements: b.elements.slice(0, LIMITS.actionsElements).map(fitElement) };
      // An actions block cannot hold text: the count of buttons left out goes in a context line after it.
      return hidden > 0 ? [out, { type: "context", elements: [mrkdwn(`… ${hidden} more buttons not shown`)] }] : [out];
    }
    default:
      return [{ ...b, ...id }];
  }
}

/** At most `max` blocks: the first ones, a context line naming how many were left out, and the last (the SOP). */
function capBlocks(blocks: KnownBlock[], max: number): KnownBlock[] {
  if (blocks.length <= max) return blocks;
  const note: KnownBlock = {
    type: "context",
    elements: [
      mrkdwn(`… ${blocks.length - (max - 1)} more blocks not shown (\`tradeguard status --json\` has it all)`),
    ],
  };
  return [...blocks.slice(0, max - 2), note, blocks[blocks.length - 1]!];
}

/** Blocks within Slack's limits: each block fitted, then at most `maxBlocks`, keeping the last (usually the SOP). */
export function fitBlocks(blocks: readonly KnownBlock[], maxBlocks: number = LIMITS.messageBlocks): KnownBlock[] {
  return capBlocks(blocks.flatMap(fitBlock), maxBlocks);
}

/** The last step of every message view: the fallback `text` and the blocks cut to what Slack accepts. */
export function fitMessage<M extends SlackMessage>(msg: M): M {
  return { ...msg, text: truncate(msg.text, LIMITS.messageText), blocks: fitBlocks(msg.blocks, LIMITS.messageBlocks) };
}

/** The last step of the App Home view: at most 100 blocks (Home tabs and modals), each within its limits. */
export function fitHome(blocks: readonly KnownBlock[]): Omit<HomeView, "blocks"> & { blocks: KnownBlock[] } {
  return { type: "home", blocks: fitBlocks(blocks, LIMITS.surfaceBlocks) };
}
