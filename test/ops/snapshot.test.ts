import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAppConfig as loadConfig } from "../../src/main.js";
import { writeSnapshot } from "../../src/ops/snapshot.js";

describe("panic snapshots", () => {
  it("go to a timestamped file in the local snapshot directory by default, never overwriting one", async () => {
    const home = mkdtempSync(join(tmpdir(), "tg-snap-"));
    const config = loadConfig({ TRADEGUARD_HOME: home });
    const where = await writeSnapshot(config, "2026-11-25T14-30-00-000Z-p1.json", { mode: "halt" });
    expect(where).toBe(join(home, "snapshots", "2026-11-25T14-30-00-000Z-p1.json"));
    expect(JSON.parse(readFileSync(where, "utf8"))).toEqual({ mode: "halt" });
    await expect(writeSnapshot(config, "2026-11-25T14-30-00-000Z-p1.json", {})).rejects.toThrow(/EEXIST/);
  });

  describe("to S3 when configured", () => {
    const puts: { method: string; url: string; body: string; auth: string }[] = [];
    const server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      puts.push({
        method: req.method ?? "",
        url: req.url ?? "",
        body: Buffer.concat(chunks).toString(),
        auth: String(req.headers.authorization ?? ""),
      });
      res.writeHead(200, { etag: '"abc"' });
      res.end();
    });
    beforeAll(async () => {
      process.env.AWS_ACCESS_KEY_ID = "AKIDEXAMPLETEST";
      process.env.AWS_SECRET_ACCESS_KEY = "test-secret";
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it("PUTs the JSON to bucket/prefix/name (SigV4-signed) and returns the s3:// location", async () => {
      const home = mkdtempSync(join(tmpdir(), "tg-snap-"));
      const port = (server.address() as AddressInfo).port;
      writeFileSync(
        join(home, "c.yml"),
        `panic:\n  s3: { bucket: desk-snapshots, prefix: tradeguard/, region: us-east-1, endpoint: "http://127.0.0.1:${port}" }\n`,
      );
      const config = loadConfig({ TRADEGUARD_HOME: home, TRADEGUARD_CONFIG: join(home, "c.yml") });
      const where = await writeSnapshot(config, "x-p2.json", {
        mode: "halt",
        positions: [{ symbol: "AAPL", qty: "10" }],
      });
      expect(where).toBe("s3://desk-snapshots/tradeguard/x-p2.json");
      expect(puts).toHaveLength(1);
      expect(puts[0]).toMatchObject({ method: "PUT", url: "/desk-snapshots/tradeguard/x-p2.json?x-id=PutObject" });
      expect(puts[0]!.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLETEST\//);
      expect(JSON.parse(puts[0]!.body)).toEqual({ mode: "halt", positions: [{ symbol: "AAPL", qty: "10" }] });
    });
  });
});
