// A silent logger for tests, and one that captures lines for assertions.
import { Writable } from "node:stream";
import { createLogger } from "../../src/log.js";

export const silentLog = createLogger({ level: "silent" });

/** A logger writing JSON lines into `lines` (for asserting what was, or was not, logged). */
export function captureLog(level = "trace") {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ level, destination: dest }), lines };
}
