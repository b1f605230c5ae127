// The log censor: secrets planted three levels deep in every shape the code logs never reach a line, their non-secret
// siblings still do, on the JSON path (createLogger with a destination) and the pino-pretty path.
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import pretty from "pino-pretty";
import { describe, expect, it, vi } from "vitest";
import { loggerOptions, redactDeep } from "../src/log.js";
import { captureLog } from "./support/log.js";

/** A distinct planted secret per case, so a failure says which shape leaked. */
const secret = (name: string) => `S3CR3T-${name}-do-not-log`;

/** Asserts no line contains any of `secrets` and every one of `visible` appears somewhere. */
function expectCensored(lines: string[], secrets: string[], visible: string[]): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) for (const s of secrets) expect(line, `${s} leaked`).not.toContain(s);
  const all = lines.join("\n");
  for (const v of visible) expect(all, `${v} was censored too`).toContain(v);
}

/** A Writable collecting what is written to it. */
function sink(): { stream: Writable; out: string[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out.push(chunk.toString());
      cb();
    },
  });
  return { stream, out };
}

describe("createLogger censors secrets at any depth", () => {
  it("a plain nested object", () => {
    const { log, lines } = captureLog();
    log.info({ opts: { auth: { secret: secret("plain"), user: "ops-bot" }, retries: 3 } }, "calling out");
    expectCensored(lines, [secret("plain")], ["ops-bot", '"retries":3', "calling out", "[redacted]"]);
    expect(JSON.parse(lines[0]!).opts.auth).toEqual({ secret: "[redacted]", user: "ops-bot" });
  });

  it("an array of objects", () => {
    const { log, lines } = captureLog();
    log.info(
      {
        brokers: [
          { name: "binance", creds: { apiKey: secret("arr1"), passphrase: secret("arr2") } },
          { name: "kraken", creds: [{ privateKey: secret("arr3"), label: "kraken-main" }] },
        ],
      },
      "brokers",
    );
    expectCensored(lines, [secret("arr1"), secret("arr2"), secret("arr3")], ["binance", "kraken", "kraken-main"]);
  });

  it("an Error with a nested property, logged as err, as the first argument, nested, and as a cause", () => {
    const { log, lines } = captureLog();
    const err = Object.assign(new Error("broker refused"), {
      code: "E_REFUSED",
      request: { headers: { "APCA-API-SECRET-KEY": secret("err1") }, auth: { password: secret("err2") } },
    });
    log.error({ err }, "flatten failed");
    log.error(err);
    log.error({ result: { outcome: { error: err } } }, "nested error");
    const wrapped = new Error("panic failed", { cause: err });
    log.error({ err: wrapped }, "with cause");
    log.error({ err: new AggregateError([err], "several brokers failed") }, "aggregate");
    expectCensored(lines, [secret("err1"), secret("err2")], ["E_REFUSED", "broker refused", "flatten failed"]);
    expect(lines).toHaveLength(5);
    // pino's err serializer output survives the censor: type, message, stack and the own properties.
    expect(JSON.parse(lines[0]!).err).toMatchObject({ type: "Error", message: "broker refused", code: "E_REFUSED" });
    expect(JSON.parse(lines[0]!).err.stack).toMatch(/broker refused/);
  });

  it("a config-like object, including the raw environment map", () => {
    const { log, lines } = captureLog();
    const config = {
      mode: "http",
      slack: { botToken: secret("bot"), signingSecret: secret("sign"), appToken: secret("app"), channel: "C0ALERTS" },
      redis: { url: `redis://tradeguard:${secret("redis")}@redis.internal:6379/0` },
      env: { BINANCE_KEY: secret("env"), HOME: "/home/tg" },
    };
    log.info({ config }, "raw config by mistake");
    expectCensored(
      lines,
      [secret("bot"), secret("sign"), secret("app"), secret("redis"), secret("env")],
      ["C0ALERTS", "redis://[redacted]@redis.internal:6379/0", '"mode":"http"'],
    );
  });

  it("request headers, in any case and spelling, while key ids logged on purpose stay", () => {
    const { log, lines } = captureLog();
    log.info(
      {
        req: {
          headers: {
            authorization: `Bearer ${secret("h1")}`,
            "x-slack-signature": `v0=${secret("h2")}`,
            "X-Slack-Request-Timestamp": "1700000000",
            "APCA-API-KEY-ID": secret("h3"),
            Cookie: `session=${secret("h4")}`,
          },
        },
        rotation: { keyId: "audit-2026-01", key_id: "audit-2025-12" },
      },
      "request",
    );
    expectCensored(
      lines,
      [secret("h1"), secret("h2"), secret("h3"), secret("h4")],
      ["1700000000", "audit-2026-01", "audit-2025-12"],
    );
  });

  it("keys normalised (case, - and _) and any key ending in secret, token or password", () => {
    const { log, lines } = captureLog();
    log.info({
      a: {
        b: {
          API_KEY: secret("n1"),
          "Signing-Secret": secret("n2"),
          webhookSecret: secret("n3"),
          refresh_token: secret("n4"),
          dbPassword: secret("n5"),
          tokenCount: 7,
          secretary: "not a secret",
        },
      },
    });
    expectCensored(lines, ["n1", "n2", "n3", "n4", "n5"].map(secret), ['"tokenCount":7', "not a secret"]);
  });

  it("URL credentials in any string: nested values, arrays and the message", () => {
    const { log, lines } = captureLog();
    log.warn(
      { targets: { primary: { urls: [`https://svc:${secret("u1")}@hooks.example.com/x?to=ops@example.com`] } } },
      `Redis at redis://:${secret("u2")}@10.0.0.5:6379 is unreachable`,
    );
    expectCensored(
      lines,
      [secret("u1"), secret("u2")],
      ["https://[redacted]@hooks.example.com/x?to=ops@example.com", "redis://[redacted]@10.0.0.5:6379 is unreachable"],
    );
  });

  it("child bindings", () => {
    const { log, lines } = captureLog();
    log.child({ slack: { client: { token: secret("child") }, team: "T0DESK" } }).info("from a child");
    expectCensored(lines, [secret("child")], ["T0DESK", "from a child"]);
  });

  it("a cyclic object neither hangs nor throws, and is still censored", () => {
    const { log, lines } = captureLog();
    const a: Record<string, unknown> = { name: "loop", auth: { secret: secret("cyc") } };
    a.self = a;
    const err = Object.assign(new Error("cyclic error"), { ctx: a });
    log.info({ a, err }, "cycles");
    expectCensored(lines, [secret("cyc")], ["loop", "cyclic error", "cycles"]);
  });

  it("loggerOptions carries the censor to a logger built without createLogger", () => {
    const { stream, out } = sink();
    const log = pino(loggerOptions("info"), stream);
    log.info({ deep: { er: { secretKey: secret("opts") }, ok: "visible" } });
    log.debug({ secretKey: "below the level" });
    expectCensored(out, [secret("opts")], ["visible"]);
    expect(out).toHaveLength(1);
  });
});

describe("redactDeep", () => {
  it("copies: the caller's object is not mutated, and shared (non-cyclic) references are not marked circular", () => {
    const shared = { token: secret("pure"), id: 1 };
    const input = { x: shared, y: [shared], when: new Date("2026-01-02T03:04:05Z") };
    const before = structuredClone(input);
    const out = redactDeep(input);
    expect(input).toEqual(before);
    expect(out).toEqual({
      x: { token: "[redacted]", id: 1 },
      y: [{ token: "[redacted]", id: 1 }],
      when: "2026-01-02T03:04:05.000Z",
    });
  });

  it("marks cycles and cuts runaway nesting", () => {
    const a: Record<string, unknown> = { n: 1 };
    a.self = a;
    expect(redactDeep(a)).toEqual({ n: 1, self: "[Circular]" });
    let deep: Record<string, unknown> = { password: secret("deep") };
    for (let i = 0; i < 100; i++) deep = { next: deep };
    const text = JSON.stringify(redactDeep(deep));
    expect(text).toContain("[too deep]");
    expect(text).not.toContain(secret("deep"));
  });

  it("an Error becomes its serialized fields with the secret ones censored", () => {
    const err = Object.assign(new Error("x"), { opts: { auth: { secret: secret("e") } }, status: 403 });
    expect(redactDeep(err)).toMatchObject({
      type: "Error",
      message: "x",
      opts: { auth: { secret: "[redacted]" } },
      status: 403,
    });
  });

  it("a URL object and a __proto__ key", () => {
    const parsed = JSON.parse(`{"__proto__":{"apiKey":"${secret("proto")}"}}`);
    const out = redactDeep({ u: new URL(`redis://u:${secret("url")}@h:6379`), parsed });
    expect(JSON.stringify(out)).not.toMatch(/S3CR3T/);
    expect(out).toMatchObject({ u: "redis://[redacted]@h:6379" });
  });
});

describe("the pino-pretty path", () => {
  it("pino-pretty in process renders censored lines", async () => {
    const { stream, out } = sink();
    const log = pino(loggerOptions("info"), pretty({ destination: stream, colorize: false, sync: true }));
    log.info({ opts: { auth: { signingSecret: secret("pretty") }, team: "T0PRETTY" } }, "pretty line");
    await vi.waitFor(() => expect(out.join("")).toContain("pretty line"));
    expectCensored(out, [secret("pretty")], ["T0PRETTY", "[redacted]"]);
  });

  it("the pino-pretty transport (a worker thread, as createLogger's pretty mode) gets censored lines", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "tg-log-")), "pretty.log");
    const transport = pino.transport({
      target: createRequire(import.meta.url).resolve("pino-pretty"),
      options: { destination: file, colorize: false },
    });
    const log = pino(loggerOptions("info"), transport);
    log.info({ cfg: { slack: { botToken: secret("worker") } }, channel: "C0WORKER" }, "via the worker");
    await new Promise((resolve) => {
      transport.on("close", resolve);
      transport.end();
    });
    const text = readFileSync(file, "utf8");
    expect(text).toContain("via the worker");
    expectCensored(text.split("\n"), [secret("worker")], ["C0WORKER"]);
  });

  it("censors the API-key headers of the exchanges tradeguard drives and a basic-auth string", () => {
    const { log, lines } = captureLog();
    log.info(
      {
        headers: {
          "X-MBX-APIKEY": secret("mbx"),
          "OK-ACCESS-KEY": secret("okk"),
          "OK-ACCESS-PASSPHRASE": secret("okp"),
          "x-api-key": secret("xak"),
          "X-BAPI-API-KEY": secret("bapi"),
        },
        client: { auth: `ops:${secret("basic")}` },
        keyId: "PKVISIBLE",
      },
      "exchange call",
    );
    const out = lines.join("\n");
    for (const s of ["mbx", "okk", "okp", "xak", "bapi", "basic"]) expect(out).not.toContain(secret(s));
    expect(out).toContain("PKVISIBLE");
  });
});
