// The `secrets:` section of the YAML: which secret store holds the managed brokers' credentials, and where.
import { z } from "zod";

const LOCAL_ONLY = ["file", "key_file"] as const;
const AWS_ONLY = ["region", "endpoint"] as const;

/** `secrets: { store: local | aws, ... }`; strict, and a key of the other store is refused rather than ignored. */
export const secretsSchema = z
  .object({
    store: z.enum(["local", "aws"]).default("local"),
    /** local: the store file (default TRADEGUARD_HOME/secrets.json). */
    file: z.string().min(1).optional(),
    /** local: the key file (default TRADEGUARD_HOME/secrets.key), unless TRADEGUARD_SECRETS_KEY is set. */
    key_file: z.string().min(1).optional(),
    /** aws: the region (default AWS_REGION / AWS_DEFAULT_REGION from the environment). */
    region: z
      .string()
      .regex(/^[a-z0-9-]+$/, "an AWS region such as us-east-1")
      .optional(),
    /** aws: another endpoint than AWS's (a VPC endpoint, or a test server). */
    endpoint: z.url().optional(),
    /** aws: prepended to each broker's `secret` name to form the AWS secret name. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]*$/, "letters, digits and / _ + = . @ - only (AWS secret name characters)")
      .max(256)
      .default("tradeguard/"),
  })
  .strict()
  .superRefine((s, ctx) => {
    const misplaced = s.store === "aws" ? LOCAL_ONLY : AWS_ONLY;
    for (const key of misplaced) {
      if (s[key] !== undefined) {
        ctx.addIssue({ code: "custom", path: [key], message: `not used by store ${s.store}; remove it` });
      }
    }
  })
  .default({ store: "local", prefix: "tradeguard/" });

/** The parsed `secrets:` settings. */
export type SecretsSettings = z.output<typeof secretsSchema>;
