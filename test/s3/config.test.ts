// The `s3` and `audit` YAML sections: defaults, retention by type, and messages that name the key.
import { describe, expect, it } from "vitest";
import { auditSectionSchema, s3SectionSchema } from "../../src/s3/config.js";

const issues = (v: unknown) => {
  const r = s3SectionSchema.safeParse(v);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("s3 section", () => {
  it("parses the issue's example: retention from the type unless the bucket sets 3–10", () => {
    const r = s3SectionSchema.parse({
      region: "us-east-1",
      endpoint: "http://127.0.0.1:7480",
      buckets: [
        { name: "desk-audit", type: "audit", kms_key_id: "arn:aws:kms:us-east-1:1:key/x" },
        { name: "desk-snapshots", type: "snapshots" },
        { name: "desk-statements", type: "statements", retention_years: 7 },
        { name: "desk-logs", type: "logs" },
      ],
    });
    expect(r).toEqual({
      region: "us-east-1",
      endpoint: "http://127.0.0.1:7480",
      buckets: [
        { name: "desk-audit", type: "audit", kmsKeyId: "arn:aws:kms:us-east-1:1:key/x", retentionYears: 6 },
        { name: "desk-snapshots", type: "snapshots", kmsKeyId: undefined, retentionYears: 3 },
        { name: "desk-statements", type: "statements", kmsKeyId: undefined, retentionYears: 7 },
        { name: "desk-logs", type: "logs", kmsKeyId: undefined, retentionYears: 3 },
      ],
    });
    expect(s3SectionSchema.parse(undefined)).toBeUndefined();
    expect(s3SectionSchema.parse({ buckets: [{ name: "abc", type: "logs" }] })?.region).toBe("us-east-1");
  });

  it("refuses bad values with a message naming the key", () => {
    expect(issues({ buckets: [{ name: "a", type: "audit", retention_years: 2 }] })).toEqual([
      expect.stringMatching(/^buckets\.0\.name: a bucket name/),
      "buckets.0.retention_years: at least 3 years (SEC 17a-4)",
    ]);
    expect(issues({ buckets: [{ name: "desk-a", type: "audit", retention_years: 11 }] })).toEqual([
      "buckets.0.retention_years: at most 10 years",
    ]);
    expect(issues({ buckets: [{ name: "desk-a", type: "archive" }] })).toEqual([
      "buckets.0.type: one of audit, snapshots, statements, logs",
    ]);
    expect(issues({ buckets: [{ name: "desk-a", type: "logs", kms: "x" }] })).toEqual([
      expect.stringMatching(/^buckets\.0: Unrecognized key: "kms"/),
    ]);
    expect(issues({ buckets: [] })).toEqual(["buckets: at least one bucket"]);
    expect(issues({ endpoint: "not a url", buckets: [{ name: "desk-a", type: "logs" }] })).toEqual([
      "endpoint: an http(s) URL of an S3-compatible endpoint",
    ]);
    expect(
      issues({
        buckets: [
          { name: "desk-a", type: "audit" },
          { name: "desk-a", type: "audit" },
        ],
      }),
    ).toEqual(["buckets.1.name: duplicate bucket desk-a", "buckets: more than one bucket of type audit"]);
  });
});

describe("audit section", () => {
  it("anchors every 15 minutes unless told otherwise (1–1440)", () => {
    expect(auditSectionSchema.parse(undefined)).toEqual({ anchor_minutes: 15 });
    expect(auditSectionSchema.parse({ anchor_minutes: 5 })).toEqual({ anchor_minutes: 5 });
    const r = auditSectionSchema.safeParse({ anchor_minutes: 0, every: 1 });
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toEqual([
      "anchor_minutes: at least 1 minute",
      ': Unrecognized key: "every"',
    ]);
  });
});
