// Time sync monitor. Order timestamps, exchange signatures (most reject a request whose timestamp is off by more than
// a recvWindow of ~1-5 s) and every guard's "how long ago" depend on this host's clock. The probe measures the
// offset with an SNTP query (RFC 4330, src/jobs/sntp.ts) to each configured server and, where chrony runs, reads
// `chronyc tracking`. The guard warns above `warn_ms` (150 ms) and goes critical above `critical_ms` (500 ms), or when
// no server answers. Those are desk defaults, not regulatory limits: FINRA Rule 6820 (CAT clock synchronisation,
// 50 ms to NIST) and MiFID II RTS 25 (1 ms; 100 µs for HFT) are tighter; lower the thresholds where they apply.
// Offsets are server time minus local time: positive means this host's clock is behind.
import { execFile } from "node:child_process";
import { z } from "zod";
import { defineGuard, type Finding } from "./guard.js";
import { parseServer, SntpError, sntpQuery } from "./sntp.js";

export const SOP_TIME = "sop-time-sync";

const serverSpec = z.string().refine((s) => {
  const { host, port } = parseServer(s);
  return host.length > 0 && Number.isInteger(port) && port > 0 && port < 65536;
}, '"host:port" (port 1-65535)');

const configSchema = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z.string().optional(),
    timeout_ms: z.number().optional(),
    servers: z.array(serverSpec).default(["pool.ntp.org:123"]),
    warn_ms: z.number().positive().default(150),
    critical_ms: z.number().positive().default(500),
    /** Per-query timeout; keep the sum under the runner's timeout_ms (the queries run in parallel). */
    query_timeout_ms: z.number().int().min(50).max(30_000).default(2_000),
    /** "auto": read chrony when chronyc answers; "required": warn when it does not; "off": never run chronyc. */
    chrony: z.enum(["auto", "required", "off"]).default("auto"),
    chronyc_path: z.string().min(1).default("chronyc"),
    /** chronyc -h: a host or the path of chronyd's command socket (default: chronyc's own default). */
    chronyc_host: z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => c.critical_ms > c.warn_ms, {
    message: "critical_ms must be greater than warn_ms",
    path: ["critical_ms"],
  });

export type TimeSyncConfig = z.infer<typeof configSchema>;

export type NtpSample =
  | { server: string; ok: true; offsetMs: number; delayMs: number; stratum: number }
  | { server: string; ok: false; error: string; reason: SntpError["reason"] | "error"; kissCode?: string };

export type ChronyTracking =
  | { status: "ok"; offsetMs: number; stratum: number; leap: string; refId: string }
  | { status: "absent" | "off" }
  | { status: "error"; message: string };

export interface TimeSyncProbe {
  ntp: NtpSample[];
  chrony: ChronyTracking;
}

/**
 * Parses `chronyc tracking` (text mode: its "System time : X seconds slow|fast of NTP time" states the direction
 * explicitly). Returns the offset as NTP time minus system time, in ms, like SNTP's.
 */
export function parseChronyTracking(text: string): ChronyTracking {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) fields.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const sys = /^([0-9.]+) seconds (slow|fast) of NTP time$/.exec(fields.get("system time") ?? "");
  const stratum = Number(fields.get("stratum"));
  if (!sys || !Number.isInteger(stratum))
    return { status: "error", message: `unexpected chronyc output: ${text.slice(0, 200)}` };
  const seconds = Number(sys[1]);
  // "slow": the system clock is behind NTP time, so NTP - local is positive.
  const offsetMs = (sys[2] === "slow" ? seconds : -seconds) * 1000 + 0; // + 0: no -0 for "0.000000000 seconds fast"
  return {
    status: "ok",
    offsetMs,
    stratum,
    leap: fields.get("leap status") ?? "unknown",
    refId: fields.get("reference id") ?? "",
  };
}

/** Runs `chronyc tracking`; "absent" when the binary is missing, "error" when chronyd does not answer. */
export function readChrony(c: TimeSyncConfig, signal?: AbortSignal): Promise<ChronyTracking> {
  if (c.chrony === "off") return Promise.resolve({ status: "off" });
  const args = [...(c.chronyc_host ? ["-h", c.chronyc_host] : []), "-n", "tracking"];
  return new Promise((resolve) => {
    execFile(c.chronyc_path, args, { timeout: c.query_timeout_ms, signal, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") return resolve({ status: "absent" });
      if (err) return resolve({ status: "error", message: (stderr || err.message).trim().slice(0, 300) });
      resolve(parseChronyTracking(stdout));
    });
  });
}

/** The median of a non-empty list. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The offset the guard judges: the median over the servers that answered, else chrony's. Pure. */
export function selectedOffset(p: TimeSyncProbe): { source: "ntp" | "chrony"; offsetMs: number } | null {
  const ok = p.ntp.filter((s): s is Extract<NtpSample, { ok: true }> => s.ok);
  if (ok.length) return { source: "ntp", offsetMs: median(ok.map((s) => s.offsetMs)) };
  if (p.chrony.status === "ok") return { source: "chrony", offsetMs: p.chrony.offsetMs };
  return null;
}

const ms = (x: number) => `${x.toFixed(1)} ms`;

/** The time sync guard (YAML `guards.time_sync`). */
export const timeSync = defineGuard<TimeSyncConfig, Record<string, never>, TimeSyncProbe>({
  name: "time_sync",
  schedule: "0 * * * * *",
  config: configSchema,
  requires: {
    hint: "set guards.time_sync.servers to the desk's NTP servers (host:port), or chrony: required",
  },
  reads: () => ({}),
  async probe(c, ctx) {
    const [ntp, chrony] = await Promise.all([
      Promise.all(
        c.servers.map(async (server): Promise<NtpSample> => {
          try {
            const r = await sntpQuery(server, { timeoutMs: c.query_timeout_ms, signal: ctx.signal });
            return { server, ok: true, offsetMs: r.offsetMs, delayMs: r.delayMs, stratum: r.stratum };
          } catch (err) {
            const e = err as Error;
            return e instanceof SntpError
              ? { server, ok: false, error: e.message, reason: e.reason, kissCode: e.kissCode }
              : { server, ok: false, error: e.message, reason: "error" };
          }
        }),
      ),
      readChrony(c, ctx.signal),
    ]);
    return { ntp, chrony };
  },
  evaluate(snapshot, _now, c) {
    const base = { guard: "time_sync", sop: SOP_TIME };
    const p = snapshot.probe;
    if (!p) {
      return [
        {
          ...base,
          key: "time_sync:no_probe",
          severity: "warn",
          title: "Time sync: not measured",
          detail: "The probe returned nothing.",
        },
      ];
    }
    const findings: Finding[] = [];
    const failed = p.ntp.filter((s): s is Extract<NtpSample, { ok: false }> => !s.ok);
    const answered = p.ntp.length - failed.length;
    const sel = selectedOffset(p);

    if (sel) {
      const abs = Math.abs(sel.offsetMs);
      if (abs > c.warn_ms) {
        const critical = abs > c.critical_ms;
        const direction = sel.offsetMs > 0 ? "behind" : "ahead of";
        const servers =
          sel.source === "ntp"
            ? p.ntp
                .filter((s) => s.ok)
                .map(
                  (s) =>
                    `${s.server} ${ms((s as Extract<NtpSample, { ok: true }>).offsetMs)} (delay ${ms((s as Extract<NtpSample, { ok: true }>).delayMs)})`,
                )
                .join(", ")
            : `chrony tracking (stratum ${(p.chrony as Extract<ChronyTracking, { status: "ok" }>).stratum})`;
        findings.push({
          ...base,
          key: "time_sync:offset",
          severity: critical ? "critical" : "warn",
          title: `Clock ${ms(abs)} ${direction} reference time`,
          detail: `Offset ${ms(sel.offsetMs)} (${sel.source === "ntp" ? `median of ${answered} server${answered === 1 ? "" : "s"}` : "chrony"}): ${servers}.`,
          value: ms(sel.offsetMs),
          threshold: ms(critical ? c.critical_ms : c.warn_ms),
        });
      }
    }

    if (p.ntp.length > 0 && answered === 0) {
      // Without any measurement the clock could be anywhere: critical. With chrony still tracking, a warning.
      const chronyOk = p.chrony.status === "ok";
      findings.push({
        ...base,
        key: "time_sync:unreachable",
        severity: chronyOk ? "warn" : "critical",
        title: `Time sync: no NTP server answered${chronyOk ? " (chrony still tracking)" : ""}`,
        detail: failed.map((f) => `${f.server}: ${f.error}`).join("; "),
        value: `0/${p.ntp.length}`,
      });
    } else if (p.ntp.length === 0 && p.chrony.status !== "ok") {
      findings.push({
        ...base,
        key: "time_sync:unreachable",
        severity: "critical",
        title: "Time sync: nothing to measure against",
        detail: `No NTP servers are configured and chrony is ${p.chrony.status === "error" ? `not answering (${p.chrony.message})` : p.chrony.status}.`,
      });
    }
    const kissed = failed.filter((f) => f.reason === "kiss-of-death");
    if (kissed.length) {
      // RFC 4330 §8: a client receiving a Kiss-o'-Death must stop sending to that server (DENY/RSTR) or slow down (RATE).
      findings.push({
        ...base,
        key: "time_sync:kiss_of_death",
        severity: "warn",
        title: `NTP server refused service: ${kissed.map((k) => `${k.server} (${k.kissCode ?? "?"})`).join(", ")}`,
        detail: "Remove the server from guards.time_sync.servers (DENY, RSTR) or query it less often (RATE).",
      });
    }
    if (p.chrony.status === "ok" && /not synchroni[sz]ed/i.test(p.chrony.leap)) {
      findings.push({
        ...base,
        key: "time_sync:chrony_unsynchronised",
        severity: "warn",
        title: "chrony: not synchronised",
        detail: `chronyc tracking reports leap status "${p.chrony.leap}" (reference ${p.chrony.refId || "none"}).`,
      });
    }
    if (c.chrony === "required" && p.chrony.status !== "ok") {
      findings.push({
        ...base,
        key: "time_sync:chrony_unavailable",
        severity: "warn",
        title: "chrony: not available",
        detail: p.chrony.status === "error" ? p.chrony.message : `chronyc is ${p.chrony.status}`,
      });
    }
    return findings;
  },
  metrics: [
    {
      name: "tradeguard_clock_offset_seconds",
      help: "Reference time minus this host's clock (positive: host behind); source ntp = median of the SNTP servers that answered, chrony = chronyc tracking. NaN when not measured this tick",
      labelNames: ["source"],
    },
    { name: "tradeguard_ntp_servers_answering", help: "NTP servers that answered this tick's SNTP query" },
    { name: "tradeguard_ntp_servers_configured", help: "NTP servers configured for the time_sync guard" },
  ],
  measure(snapshot) {
    const p = snapshot.probe;
    if (!p) return [];
    const ok = p.ntp.filter((s): s is Extract<NtpSample, { ok: true }> => s.ok);
    return [
      {
        name: "tradeguard_clock_offset_seconds",
        labels: { source: "ntp" },
        value: ok.length ? median(ok.map((s) => s.offsetMs)) / 1000 : Number.NaN,
      },
      {
        name: "tradeguard_clock_offset_seconds",
        labels: { source: "chrony" },
        value: p.chrony.status === "ok" ? p.chrony.offsetMs / 1000 : Number.NaN,
      },
      { name: "tradeguard_ntp_servers_answering", value: ok.length },
      { name: "tradeguard_ntp_servers_configured", value: p.ntp.length },
    ];
  },
});
