// `tradeguard grafana push` against a local HTTP server speaking Grafana's dashboard API (POST /api/dashboards/db):
// the wire format (bearer token, JSON body {dashboard, overwrite, folderUid, message}), Grafana's replies and errors
// mapped to exit codes 0 / 1 / 2, and the dashboard pushed being the one rendered with the desk's config.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pushDashboard, type SaveRequest } from "../../src/cli/grafana.js";
import { loadConfig } from "../../src/config.js";
import { MONITORING_SECTION, renderOptionsOf } from "../../src/monitoring/config.js";
import { buildDashboard } from "../../src/monitoring/dashboard.js";
import { runCli } from "../support/cli.js";
import { freePort } from "../support/global-setup.js";

type Seen = { method: string; url: string; headers: IncomingHttpHeaders; body: string };
const seen: Seen[] = [];
let reply: { status: number; body: string } = { status: 200, body: "{}" };
let server: Server;
let url = "";

const saved = (uid: string, version = 3) =>
  JSON.stringify({ id: 7, uid, url: `/grafana/d/${uid}/tradeguard`, status: "success", version, slug: "tradeguard" });

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.writeHead(reply.status, { "content-type": "application/json" });
      res.end(reply.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/grafana/`;
});
afterAll(() => new Promise((r) => server.close(r)));
beforeEach(() => {
  seen.length = 0;
  reply = { status: 200, body: saved("tradeguard") };
});

const body: SaveRequest = { dashboard: { uid: "tradeguard", title: "tradeguard" }, overwrite: true, message: "m" };

describe("pushDashboard (Grafana's POST /api/dashboards/db)", () => {
  it("posts the body as JSON with the bearer token, under GRAFANA_URL's sub-path, and returns Grafana's reply", async () => {
    const r = await pushDashboard({ url, token: "glsa_secret_token" }, { ...body, folderUid: "ops" });
    expect(r).toEqual(JSON.parse(saved("tradeguard")));
    expect(seen).toHaveLength(1);
    const req = seen[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe("/grafana/api/dashboards/db");
    expect(req.headers.authorization).toBe("Bearer glsa_secret_token");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers.accept).toBe("application/json");
    expect(JSON.parse(req.body)).toEqual({
      dashboard: { uid: "tradeguard", title: "tradeguard" },
      overwrite: true,
      folderUid: "ops",
      message: "m",
    });
  });

  it("maps Grafana's refusals to exit 1 with its status and message, never the token", async () => {
    const cases: [number, string, RegExp][] = [
      [401, '{"message":"invalid API key"}', /HTTP 401 invalid API key \(GRAFANA_TOKEN is not a valid token\)/],
      [403, '{"message":"Access denied"}', /HTTP 403 Access denied \(the token may not save dashboards/],
      [
        412,
        '{"message":"The dashboard has been changed by someone else","status":"version-mismatch"}',
        /HTTP 412 version-mismatch: The dashboard has been changed by someone else/,
      ],
      [400, '{"message":"Dashboard title cannot be empty"}', /HTTP 400 Dashboard title cannot be empty/],
      [502, "<html>bad gateway</html>", /HTTP 502 <html>bad gateway<\/html>/],
    ];
    for (const [status, text, message] of cases) {
      reply = { status, body: text };
      const err = await pushDashboard({ url, token: "glsa_secret_token" }, body).catch((e) => e);
      expect(err.code, String(status)).toBe(1);
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain("glsa_secret_token");
    }
  });

  it("refuses a success reply that is not Grafana's, and says when Grafana cannot be reached", async () => {
    reply = { status: 200, body: '{"ok":true}' };
    await expect(pushDashboard({ url, token: "t" }, body)).rejects.toMatchObject({
      code: 1,
      message: expect.stringMatching(/unexpected body/),
    });
    const closed = `http://user:pw@127.0.0.1:${await freePort()}`;
    const err = await pushDashboard({ url: closed, token: "t" }, body).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.message).toMatch(
      /could not reach Grafana at http:\/\/\[redacted\]@127\.0\.0\.1:\d+\/api\/dashboards\/db/,
    );
  });
});

describe("tradeguard grafana push", () => {
  let env: Record<string, string>;
  let configFile: string;
  beforeAll(() => {
    const home = mkdtempSync(join(tmpdir(), "tg-grafana-"));
    configFile = join(home, "tradeguard.yaml");
    writeFileSync(
      configFile,
      "runbook_url: https://wiki.desk.example/RUNBOOK.md\nmonitoring:\n  job: tg-prod\n  grafana: { dashboard_uid: desk-tradeguard, folder_uid: trading-ops }\n",
    );
    env = { TRADEGUARD_HOME: home, TRADEGUARD_CONFIG: configFile, REDIS_URL: "redis://127.0.0.1:1" };
  });

  it("exits 2 when GRAFANA_URL or GRAFANA_TOKEN is not set, without a request", async () => {
    const r = await runCli(["grafana", "push"], { ...env, GRAFANA_URL: url });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/grafana push needs GRAFANA_URL and GRAFANA_TOKEN: GRAFANA_TOKEN is not set/);
    expect(seen).toEqual([]);
  });

  it("exits 0 after saving the dashboard rendered with the desk's config, into its folder", async () => {
    reply = { status: 200, body: saved("desk-tradeguard", 12) };
    const r = await runCli(["grafana", "push", "--json"], { ...env, GRAFANA_URL: url, GRAFANA_TOKEN: "glsa_x" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ uid: "desk-tradeguard", version: 12 });
    const sent = JSON.parse(seen[0]!.body) as SaveRequest;
    const config = loadConfig(
      { TRADEGUARD_HOME: env.TRADEGUARD_HOME, TRADEGUARD_CONFIG: configFile },
      [],
      [MONITORING_SECTION],
    );
    expect(sent.dashboard).toEqual(buildDashboard(renderOptionsOf(config)));
    expect(sent.dashboard.uid).toBe("desk-tradeguard");
    expect(JSON.stringify(sent.dashboard)).toContain("https://wiki.desk.example/RUNBOOK.md#sop-watchman-heartbeat");
    expect(sent).toMatchObject({
      overwrite: true,
      folderUid: "trading-ops",
      message: "tradeguard grafana push by cli:ops",
    });
  });

  it("exits 1 with Grafana's reason when it refuses", async () => {
    reply = {
      status: 412,
      body: '{"message":"A dashboard with the same name in the folder already exists","status":"name-exists"}',
    };
    const r = await runCli(["grafana", "push", "--folder", "other", "--message", "drill"], {
      ...env,
      GRAFANA_URL: url,
      GRAFANA_TOKEN: "glsa_x",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/HTTP 412 name-exists: A dashboard with the same name in the folder already exists/);
    expect(JSON.parse(seen[0]!.body)).toMatchObject({ folderUid: "other", message: "drill" });
  });
});
