// manifest.yml against Slack's official app-manifest JSON schema (draft-07, vendored in ../shared/specs/slack-manifest),
// and against the code: the slash commands the bot registers and the settings its HTTP receiver expects.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { handlers } from "../src/handlers/index.js";
import { sharedSpec } from "./support/shared-specs.js";

const schemas = sharedSpec("slack-manifest", "these tests validate manifest.yml against Slack's schema");
/** The tests that need Slack's schemas; the others check manifest.yml against the code and always run. */
const itWithSchemas = it.skipIf(schemas.skip);
const manifestText = readFileSync(new URL("../manifest.yml", import.meta.url), "utf8");

interface SlashCommand {
  command: string;
  url?: string;
  description?: string;
  usage_hint?: string;
  should_escape?: boolean;
}

interface Manifest {
  features: { slash_commands: SlashCommand[]; app_home: Record<string, boolean>; bot_user: Record<string, unknown> };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    interactivity: { is_enabled: boolean; request_url?: string };
    event_subscriptions: { request_url?: string; bot_events: string[] };
    socket_mode_enabled: boolean;
  };
  [key: string]: unknown;
}

/** A fresh parsed copy of manifest.yml (tests mutate their copies). */
function manifest(): Manifest {
  return parse(manifestText) as Manifest;
}

function readSpec(name: string): Record<string, unknown> {
  const file = join(schemas.require(), name);
  if (!existsSync(file))
    throw new Error(`../shared/specs/slack-manifest is missing ${name} (looked in ${schemas.path})`);
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
}

/** Every `$ref` string in a schema. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const x of node) refs(x, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

let compiled: ValidateFunction | null = null;

/**
 * The validator for manifest.schema.json, the all-versions entry point that dispatches on _metadata.major_version.
 * Its remote $refs (raw.githubusercontent.com/.../manifest.schema.<v>.json) are served from the vendored files of
 * the same name, so the test runs offline.
 */
function validator(): ValidateFunction {
  if (compiled) return compiled;
  const root = readSpec("manifest.schema.json");
  expect(root.$schema).toBe("http://json-schema.org/draft-07/schema#");
  const ajv = new Ajv({ strict: false, allErrors: true });
  // The only format the schemas use (on the optional top-level `$schema` property); no ajv-formats in this project.
  ajv.addFormat("uri", /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/);
  // The schemas spell background_color's pattern as the non-standard keyword `regex`; enforce it as written.
  ajv.addKeyword({
    keyword: "regex",
    type: "string",
    schemaType: "string",
    validate: (pattern: string, data: string) => new RegExp(pattern).test(data),
    errors: false,
  });
  const remote = [...new Set(refs(root).filter((r) => /^https?:\/\//.test(r)))];
  expect(remote.length).toBeGreaterThan(0);
  for (const ref of remote) ajv.addSchema(readSpec(ref.slice(ref.lastIndexOf("/") + 1)), ref);
  compiled = ajv.compile(root);
  return compiled;
}

function validate(doc: unknown): ErrorObject[] {
  const v = validator();
  return v(doc) ? [] : (v.errors ?? []);
}

function describeErrors(errors: ErrorObject[]): string {
  return errors.map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`).join("\n");
}

describe("manifest.yml", () => {
  itWithSchemas("is valid against Slack's app-manifest schema (major version 1)", () => {
    const m = manifest();
    expect(m._metadata).toMatchObject({ major_version: 1 });
    const errors = validate(m);
    expect(errors, describeErrors(errors)).toEqual([]);
  });

  it("declares exactly the slash commands the bot registers (the handler list in src/handlers/index.ts)", () => {
    const inManifest = manifest().features.slash_commands.map((c) => c.command);
    expect(new Set(inManifest).size, "a command is declared twice").toBe(inManifest.length);
    const registered = handlers.flatMap((h) => (h.command ? [h.command] : []));
    expect(new Set(registered).size, "a command is registered twice").toBe(registered.length);
    expect([...inManifest].sort()).toEqual([...registered].sort());
  });

  it("sends commands, interactions and events to the HTTP receiver's /slack/events", () => {
    const m = manifest();
    expect(m.settings.interactivity.is_enabled).toBe(true);
    expect(m.settings.interactivity.request_url).toMatch(/^https:\/\/[^/]+\/slack\/events$/);
    expect(m.settings.event_subscriptions.request_url).toBe(m.settings.interactivity.request_url);
    for (const c of m.features.slash_commands) {
      expect(c.url, c.command).toBe(m.settings.interactivity.request_url);
      expect(c.should_escape, c.command).toBe(false);
    }
    expect(m.settings.socket_mode_enabled).toBe(false);
  });

  it("asks for the bot scopes the code uses and the App Home event", () => {
    const m = manifest();
    expect(m.oauth_config.scopes.bot).toEqual(expect.arrayContaining(["commands", "chat:write"]));
    expect(m.oauth_config.scopes.bot).not.toContain("users:read");
    expect(m.settings.event_subscriptions.bot_events).toEqual(["app_home_opened"]);
    expect(m.features.app_home).toMatchObject({ home_tab_enabled: true, messages_tab_enabled: false });
    expect(m.features.bot_user).toMatchObject({ display_name: "tradeguard", always_online: true });
  });

  itWithSchemas(
    "stays valid in its Socket Mode form (socket_mode_enabled, no request URLs), as the header comment says",
    () => {
      const m = manifest();
      m.settings.socket_mode_enabled = true;
      for (const c of m.features.slash_commands) delete c.url;
      delete m.settings.interactivity.request_url;
      delete m.settings.event_subscriptions.request_url;
      const errors = validate(m);
      expect(errors, describeErrors(errors)).toEqual([]);
    },
  );

  describe.skipIf(schemas.skip)("the validator rejects broken manifests", () => {
    it("a slash command without a description", () => {
      const m = manifest();
      delete m.features.slash_commands[0]!.description;
      const errors = validate(m);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors).toContainEqual(
        expect.objectContaining({
          instancePath: "/features/slash_commands/0",
          keyword: "required",
          params: { missingProperty: "description" },
        }),
      );
    });

    it("an unknown top-level key", () => {
      const m = { ...manifest(), not_a_manifest_key: true };
      const errors = validate(m);
      expect(errors).toContainEqual(
        expect.objectContaining({
          keyword: "additionalProperties",
          params: { additionalProperty: "not_a_manifest_key" },
        }),
      );
    });

    it("a wrongly typed setting and a command without its leading slash", () => {
      const m = manifest();
      (m.settings as Record<string, unknown>).socket_mode_enabled = "no";
      m.features.slash_commands[1]!.command = "clear";
      const errors = validate(m);
      expect(errors).toContainEqual(
        expect.objectContaining({ instancePath: "/settings/socket_mode_enabled", keyword: "type" }),
      );
      expect(errors).toContainEqual(
        expect.objectContaining({ instancePath: "/features/slash_commands/1/command", keyword: "pattern" }),
      );
    });

    it("a background colour that is not a hex colour", () => {
      const m = manifest();
      (m.display_information as Record<string, unknown>).background_color = "maroon!";
      expect(validate(m)).toContainEqual(
        expect.objectContaining({ instancePath: "/display_information/background_color", keyword: "regex" }),
      );
    });
  });
});
