// tradeguard grafana push — uploads the dashboard (src/monitoring/, rendered with this desk's config: its runbook_url,
// monitoring.job and monitoring.grafana) through Grafana's HTTP API: POST <GRAFANA_URL>/api/dashboards/db with a
// bearer token (a service account token), body {dashboard, overwrite: true, folderUid?, message}. Grafana answers
// {id, uid, url, status: "success", version, slug}, or an error status with {message, status?} (401 bad token, 403 no
// permission, 404 folder not found, 412 version-mismatch / name-exists / plugin-dashboard, 400 invalid dashboard).
import type { Command } from "commander";
import { z } from "zod";
import { cliActor } from "../config.js";
import { renderOptionsOf } from "../monitoring/config.js";
import { buildDashboard } from "../monitoring/dashboard.js";
import { CliExit, cliConfig, EXIT, printJson } from "./context.js";

/** The environment `grafana push` reads: where Grafana is, and the token it sends (never printed or logged). */
const grafanaEnv = z.object({
  GRAFANA_URL: z.url({ protocol: /^https?$/, message: "an http(s) URL, e.g. https://grafana.example.com" }),
  GRAFANA_TOKEN: z.string().min(1),
});

/** Grafana's reply to a successful save. */
const savedSchema = z.object({
  id: z.number().optional(),
  uid: z.string(),
  url: z.string(),
  status: z.string(),
  version: z.number(),
  slug: z.string().optional(),
});
export type SavedDashboard = z.infer<typeof savedSchema>;

const errorSchema = z.object({ message: z.string().optional(), status: z.string().optional() }).passthrough();

/** The body of POST /api/dashboards/db. */
export interface SaveRequest {
  dashboard: Record<string, unknown>;
  overwrite: true;
  folderUid?: string;
  message: string;
}

/** A URL without credentials, for messages. */
const shown = (url: string) => url.replace(/\/\/[^@/]*@/, "//[redacted]@");

/**
 * Saves a dashboard through Grafana's API; resolves with Grafana's reply, or throws CliExit(1) saying what Grafana
 * (or the network) answered.
 */
export async function pushDashboard(
  grafana: { url: string; token: string; timeoutMs?: number },
  body: SaveRequest,
): Promise<SavedDashboard> {
  const endpoint = `${grafana.url.replace(/\/+$/, "")}/api/dashboards/db`;
  let res: Response;
  try {
    res = await fetch(endpoint, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${grafana.token}`,
        "Content-Type": "application/json",
        Accept: "application/json",
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(grafana.timeoutMs ?? 15_000),
    });
  } catch (err) {
    const why = (err as Error)?.name === "TimeoutError" ? "no answer in time" : String((err as Error)?.cause ?? err);
    throw new CliExit(EXIT.failed, `could not reach Grafana at ${shown(endpoint)}: ${why}`);
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  if (!res.ok) {
    const e = errorSchema.safeParse(json);
    const detail = e.success ? [e.data.status, e.data.message].filter(Boolean).join(": ") : text.slice(0, 200);
    const hint =
      res.status === 401
        ? " (GRAFANA_TOKEN is not a valid token)"
        : res.status === 403
          ? " (the token may not save dashboards in that folder: it needs the Editor role or dashboards:write)"
          : res.status === 412
            ? " (another dashboard has this uid's title in the folder, or it is provisioned: see monitoring.grafana.dashboard_uid)"
            : "";
    throw new CliExit(
      EXIT.failed,
      `Grafana refused the dashboard: HTTP ${res.status}${detail ? ` ${detail}` : ""}${hint}`,
    );
  }
  const saved = savedSchema.safeParse(json);
  if (!saved.success)
    throw new CliExit(
      EXIT.failed,
      `Grafana answered HTTP ${res.status} with an unexpected body: ${text.slice(0, 200)}`,
    );
  return saved.data;
}

/** Registers the grafana command group. */
export function registerGrafana(program: Command): void {
  const grafana = program.command("grafana").description("the Grafana dashboard");
  grafana
    .command("push")
    .description(
      "upload the tradeguard dashboard to Grafana (POST /api/dashboards/db; needs GRAFANA_URL and GRAFANA_TOKEN)",
    )
    .option("--folder <uid>", "the folder to save into (default: monitoring.grafana.folder_uid, else the root folder)")
    .option("--message <text>", "the version message Grafana records")
    .option("--json", "print Grafana's reply as JSON")
    .addHelpText(
      "after",
      "\nEnvironment: GRAFANA_URL (e.g. https://grafana.example.com), GRAFANA_TOKEN (a service account token with Editor).\nExit codes: 0 saved, 1 Grafana refused it or could not be reached, 2 usage or configuration (GRAFANA_URL/GRAFANA_TOKEN unset).\n",
    )
    .action(async (opts: { folder?: string; message?: string; json?: boolean }) => {
      const raw = {
        GRAFANA_URL: process.env.GRAFANA_URL || undefined,
        GRAFANA_TOKEN: process.env.GRAFANA_TOKEN || undefined,
      };
      const env = grafanaEnv.safeParse(raw);
      if (!env.success) {
        const bad = env.error.issues.map((i) => {
          const key = String(i.path[0]) as keyof typeof raw;
          return raw[key] === undefined ? `${key} is not set` : `${key}: ${i.message}`;
        });
        throw new CliExit(EXIT.usage, `grafana push needs GRAFANA_URL and GRAFANA_TOKEN: ${bad.join("; ")}`);
      }
      if (opts.folder !== undefined && !/^[A-Za-z0-9_-]{1,40}$/.test(opts.folder))
        throw new CliExit(EXIT.usage, "--folder: a folder uid (letters, digits, _ and -, at most 40)");
      const config = cliConfig();
      const render = renderOptionsOf(config);
      if (render.defaultRunbook)
        process.stderr.write(
          `tradeguard: runbook_url is not configured: the dashboard's SOP links use ${render.runbookUrl}\n`,
        );
      const folderUid = opts.folder ?? render.settings.grafana.folder_uid;
      const body: SaveRequest = {
        dashboard: buildDashboard(render),
        overwrite: true,
        ...(folderUid ? { folderUid } : {}),
        message: opts.message ?? `tradeguard grafana push by ${cliActor()}`,
      };
      const saved = await pushDashboard({ url: env.data.GRAFANA_URL, token: env.data.GRAFANA_TOKEN }, body);
      if (opts.json) return printJson(saved);
      // Grafana's url is a path that already carries its sub-path (root_url), so it goes on the origin.
      const link = new URL(saved.url, env.data.GRAFANA_URL).toString();
      process.stdout.write(`saved dashboard ${saved.uid} version ${saved.version}: ${shown(link)}\n`);
    });
}
