// Canonical JSON: object keys sorted by UTF-16 code unit order, no whitespace, `undefined` members dropped.
// The audit hash is computed over this form, so any implementation that sorts keys the same way can verify it.

/** Serialises `value` canonically; throws on values JSON cannot represent faithfully (NaN, Infinity, BigInt). */
export function canonicalJson(value: unknown): string {
  return write(value);
}

function write(v: unknown): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: non-finite number ${v}`);
      return JSON.stringify(v);
    case "object": {
      if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : write(x))).join(",")}]`;
      if (typeof (v as { toJSON?: unknown }).toJSON === "function") return write((v as { toJSON(): unknown }).toJSON());
      const obj = v as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(obj).sort()) {
        const x = obj[key];
        if (x === undefined || typeof x === "function") continue;
        parts.push(`${JSON.stringify(key)}:${write(x)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialise ${typeof v}`);
  }
}
