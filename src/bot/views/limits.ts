// Fitting Block Kit to Slack's limits: the last step of every view. Slack refuses a message that breaks a Block Kit
// limit (invalid_blocks) and truncates a long `text` without saying where, so every view ends with fitMessage() and
// every cut says how much it left out: "… (1,048,576 more characters)". The limits themselves, with their sources,
// and the text cutting live in src/notify.ts: the bottom layer, because SlackNotifier needs them too.
import { capBlocks, SLACK_LIMITS as LIMITS, truncate } from "../../notify.js";

/** A Block Kit block or element, as the views build them. */
export type Block = Record<string, unknown>;

/** An identifier-like value (button value, url, action_id, block_id): cut hard, since no one reads it. */
const clip = (v: unknown, max: number) => (typeof v === "string" && v.length > max ? v.slice(0, max) : v);

/** A text object (mrkdwn or plain_text) with its text cut to `max`. */
function fitTextObject(t: unknown, max: number): unknown {
  if (!t || typeof t !== "object") return t;
  const o = t as { text?: unknown };
  return typeof o.text === "string" ? { ...o, text: truncate(o.text, max) } : t;
}

/** A block element: buttons' text, value, url and action_id; text objects (in a context) cut to `textMax`. */
function fitElement(e: Block, textMax: number): Block {
  if (e.type === "mrkdwn" || e.type === "plain_text") return fitTextObject(e, textMax) as Block;
  if (e.type !== "button") return e;
  return {
    ...e,
    text: fitTextObject(e.text, LIMITS.buttonText),
    ...(e.value !== undefined ? { value: clip(e.value, LIMITS.buttonValue) } : {}),
    ...(e.url !== undefined ? { url: clip(e.url, LIMITS.buttonUrl) } : {}),
    ...(e.action_id !== undefined ? { action_id: clip(e.action_id, LIMITS.actionId) } : {}),
  };
}

/** `items` capped at `max`, the last kept slot saying how many were left out (made by `note`). */
function capList<T>(items: T[], max: number, note: (hidden: number) => T): T[] {
  if (items.length <= max) return items;
  return [...items.slice(0, max - 1), note(items.length - max + 1)];
}

/** One block within its own limits (texts, fields, elements, buttons). Blocks of other types pass unchanged. */
function fitBlock(b: Block): Block[] {
  const out: Block = { ...b };
  if (b.block_id !== undefined) out.block_id = clip(b.block_id, LIMITS.blockId);
  const mrkdwn = (text: string) => ({ type: "mrkdwn", text });
  switch (b.type) {
    case "section": {
      if (b.text !== undefined) out.text = fitTextObject(b.text, LIMITS.sectionText);
      if (Array.isArray(b.fields))
        out.fields = capList(b.fields, LIMITS.sectionFields, (n) => mrkdwn(`… and ${n} more`)).map((f) =>
          fitTextObject(f, LIMITS.fieldText),
        );
      if (b.accessory && typeof b.accessory === "object")
        out.accessory = fitElement(b.accessory as Block, LIMITS.buttonText);
      return [out];
    }
    case "header":
      out.text = fitTextObject(b.text, LIMITS.headerText);
      return [out];
    case "context": {
      const els = (b.elements as Block[] | undefined) ?? [];
      out.elements = capList(els, LIMITS.contextElements, (n) => mrkdwn(`… and ${n} more`)).map((e) =>
        fitElement(e, LIMITS.contextText),
      );
      return [out];
    }
    case "actions": {
      const els = ((b.elements as Block[] | undefined) ?? []).map((e) => fitElement(e, LIMITS.buttonText));
      out.elements = els.slice(0, LIMITS.actionsElements);
      const hidden = els.length - LIMITS.actionsElements;
      // An actions block cannot hold text: the count of buttons left out goes in a context line after it.
      return hidden > 0 ? [out, { type: "context", elements: [mrkdwn(`… ${hidden} more buttons not shown`)] }] : [out];
    }
    default:
      return [out];
  }
}

/** Blocks within Slack's limits: each block fitted, then at most `maxBlocks`, keeping the last (usually the SOP). */
export function fitBlocks(blocks: readonly Block[], maxBlocks: number = LIMITS.messageBlocks): Block[] {
  return capBlocks(blocks.flatMap(fitBlock), maxBlocks);
}

/** The last step of every view: the fallback `text` and the blocks cut to what Slack accepts for `surface`. */
export function fitMessage<M extends { text: string; blocks: Block[] }>(
  msg: M,
  surface: "message" | "home" = "message",
): M {
  const max = surface === "home" ? LIMITS.surfaceBlocks : LIMITS.messageBlocks;
  return { ...msg, text: truncate(msg.text, LIMITS.messageText), blocks: fitBlocks(msg.blocks, max) };
}
