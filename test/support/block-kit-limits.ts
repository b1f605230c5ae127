// Slack's documented Block Kit limits, checked on the JSON a view sends: every limit a message, Home tab or modal
// breaks, as readable lines (empty: Slack takes it). It reads the payload as plain JSON, not through the views' types,
// so a view that built something its types allowed but Slack refuses is still caught. Sources (also in
// src/notify.ts, SLACK_LIMITS):
// - 50 blocks per message, 100 per Home tab or modal: https://docs.slack.dev/reference/block-kit/blocks
// - section: text 1–3,000 characters, ≤ 10 fields of ≤ 2,000, text or fields required, block_id ≤ 255:
//   https://docs.slack.dev/reference/block-kit/blocks/section-block
// - header: plain_text ≤ 150: https://docs.slack.dev/reference/block-kit/blocks/header-block
// - context: 1–10 elements: https://docs.slack.dev/reference/block-kit/blocks/context-block (each text ≤ 2,000 is our
//   own, stricter cap)
// - actions: 1–25 elements: https://docs.slack.dev/reference/block-kit/blocks/actions-block
// - button: plain_text text ≤ 75, value ≤ 2,000, url ≤ 3,000, action_id ≤ 255 and unique:
//   https://docs.slack.dev/reference/block-kit/block-elements/button-element
// - message `text` ≤ 40,000: https://api.slack.com/changelog/2018-04-truncating-really-long-messages
// - block_id unique in a message ("block_id should be unique for each message"): the blocks reference.

export type Surface = "message" | "home" | "modal";

const MAX_BLOCKS: Record<Surface, number> = { message: 50, home: 100, modal: 100 };
/** The block types our views send; anything else is reported (a typo, or a block this checker does not know yet). */
const KNOWN = new Set(["section", "header", "context", "actions", "divider"]);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | null => (v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : null);
const arr = (v: unknown): unknown[] | null => (Array.isArray(v) ? v : null);

/** Every limit `payload` breaks on `surface`: `{text?, blocks}` of a message, or a view `{type, blocks}`. */
export function blockKitViolations(payload: unknown, surface: Surface = "message"): string[] {
  const out: string[] = [];
  const p = obj(payload);
  if (!p) return ["payload: not an object"];
  const len = (what: string, v: unknown, max: number, min = 0): void => {
    if (typeof v !== "string") {
      out.push(`${what}: not a string`);
      return;
    }
    if (v.length > max) out.push(`${what}: ${v.length} > ${max}`);
    if (v.length < min) out.push(`${what}: ${v.length} < ${min}`);
  };
  const count = (what: string, v: unknown[], max: number, min = 0): void => {
    if (v.length > max) out.push(`${what}: ${v.length} > ${max}`);
    if (v.length < min) out.push(`${what}: ${v.length} < ${min}`);
  };
  const text = (what: string, t: unknown, max: number, plainOnly = false): void => {
    const o = obj(t);
    if (!o) {
      out.push(`${what}: not a text object`);
      return;
    }
    if (o.type !== "plain_text" && (plainOnly || o.type !== "mrkdwn")) out.push(`${what}: type ${String(o.type)}`);
    len(what, o.text, max, 1);
  };
  const actionIds = new Set<string>();
  const blockIds = new Set<string>();
  const button = (what: string, e: Json): void => {
    text(`${what} text`, e.text, 75, true);
    if (e.value !== undefined) len(`${what} value`, e.value, 2000);
    if (e.url !== undefined) len(`${what} url`, e.url, 3000);
    if (e.action_id !== undefined) {
      len(`${what} action_id`, e.action_id, 255, 1);
      if (actionIds.has(String(e.action_id))) out.push(`${what}: duplicate action_id ${String(e.action_id)}`);
      actionIds.add(String(e.action_id));
    }
    if (e.style !== undefined && e.style !== "primary" && e.style !== "danger") out.push(`${what}: style ${e.style}`);
  };
  const element = (what: string, e: unknown): void => {
    const o = obj(e);
    if (o?.type === "button") button(what, o);
    else out.push(`${what}: element type ${String(o?.type)} not checked`);
  };

  if (p.text !== undefined) len("text", p.text, 40_000);
  if (surface !== "message" && p.type !== surface) out.push(`view type ${String(p.type)}, expected ${surface}`);
  const blocks = arr(p.blocks);
  if (!blocks) return [...out, "blocks: not an array"];
  count("blocks", blocks, MAX_BLOCKS[surface]);
  for (const [i, raw] of blocks.entries()) {
    const b = obj(raw);
    const at = `block ${i} (${String(b?.type)})`;
    if (!b) {
      out.push(`${at}: not an object`);
      continue;
    }
    if (!KNOWN.has(String(b.type))) out.push(`${at}: unknown block type`);
    if (b.block_id !== undefined) {
      len(`${at} block_id`, b.block_id, 255, 1);
      if (blockIds.has(String(b.block_id))) out.push(`${at}: duplicate block_id ${String(b.block_id)}`);
      blockIds.add(String(b.block_id));
    }
    if (b.type === "section") {
      const fields = arr(b.fields);
      if (b.text === undefined && !fields) out.push(`${at}: neither text nor fields`);
      if (b.text !== undefined) text(`${at} text`, b.text, 3000);
      if (fields) {
        count(`${at} fields`, fields, 10, 1);
        for (const [j, f] of fields.entries()) text(`${at} field ${j}`, f, 2000);
      }
      if (b.accessory !== undefined) element(`${at} accessory`, b.accessory);
    } else if (b.type === "header") text(`${at} text`, b.text, 150, true);
    else if (b.type === "context") {
      const els = arr(b.elements) ?? [];
      count(`${at} elements`, els, 10, 1);
      for (const [j, e] of els.entries()) text(`${at} element ${j}`, e, 2000);
    } else if (b.type === "actions") {
      const els = arr(b.elements) ?? [];
      count(`${at} elements`, els, 25, 1);
      for (const [j, e] of els.entries()) element(`${at} element ${j}`, e);
    }
  }
  return out;
}

/** Every string of a payload Slack renders: the top-level text and each `text` inside the blocks. */
export function renderedTexts(payload: { text?: string; blocks: unknown[] }): string[] {
  const out = payload.text !== undefined ? [payload.text] : [];
  JSON.stringify(payload.blocks, (k, v) => {
    if (k === "text" && typeof v === "string") out.push(v);
    return v;
  });
  return out;
}
