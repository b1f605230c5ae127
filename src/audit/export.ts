// Export of the audit chain to append-only storage (the audit bucket, under Object Lock): each object holds a range
// of consecutive entries, exactly as stored, named by its first and last seq. Each export continues after the last
// exported seq, so objects are only ever added. The store is an ExportSink (src/s3 has the bucket one).
import { type AuditSource, readEntries } from "./log.js";

/** Where exported ranges go. */
export interface ExportSink {
  readonly location: string;
  /** The last seq of the newest exported range (0 when nothing was exported yet). */
  lastExportedSeq(): Promise<number>;
  /** Stores entries first..last (JSON Lines, the stored text of each entry); resolves with where it went. */
  write(first: number, last: number, body: string): Promise<string>;
}

export interface ExportResult {
  /** The ranges written by this export. */
  objects: { first: number; last: number; location: string }[];
  /** Why the export stopped short, if it did (a gap in the chain). */
  stopped: string | null;
}

/** Entries per exported object. */
export const EXPORT_CHUNK = 1000;

/** The object name of a range: `log/000000000001-000000001000.jsonl`. */
export function exportKey(first: number, last: number): string {
  return `log/${String(first).padStart(12, "0")}-${String(last).padStart(12, "0")}.jsonl`;
}

/**
 * Exports every entry after the last exported one, in ranges of at most `chunk` entries. Only consecutive seqs are
 * exported: at a gap (a deleted entry) the export stops and says so, rather than write a range that skips one.
 */
export async function exportLog(
  source: AuditSource,
  sink: ExportSink,
  opts: { chunk?: number } = {},
): Promise<ExportResult> {
  const chunk = opts.chunk ?? EXPORT_CHUNK;
  const after = await sink.lastExportedSeq();
  const objects: ExportResult["objects"] = [];
  let lines: string[] = [];
  let first = after + 1;
  let expected = after + 1;
  const flush = async () => {
    if (!lines.length) return;
    const last = first + lines.length - 1;
    objects.push({ first, last, location: await sink.write(first, last, `${lines.join("\n")}\n`) });
    first = last + 1;
    lines = [];
  };
  for await (const raw of readEntries(source, { fromSeq: after + 1 })) {
    if (raw.trim() === "") continue;
    let seq: number;
    try {
      seq = Number((JSON.parse(raw) as { seq?: unknown }).seq);
    } catch {
      seq = Number.NaN;
    }
    // A file source is read from its start: skip what was exported already.
    if (Number.isInteger(seq) && seq < expected) continue;
    if (seq !== expected) {
      await flush();
      return {
        objects,
        stopped: `expected seq ${expected} but found ${Number.isNaN(seq) ? "an unreadable entry" : `seq ${seq}`}; export stopped (run tradeguard audit verify)`,
      };
    }
    lines.push(raw);
    expected++;
    if (lines.length >= chunk) await flush();
  }
  await flush();
  return { objects, stopped: null };
}
