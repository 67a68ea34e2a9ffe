import { z } from 'zod';

/**
 * Role rules: what an org admin writes (via the API), validated on write, stored in
 * Postgres as JSON, copied into the snapshot and evaluated by @toolgate/policy.
 */

/** `server__tool` glob: `*` matches any run of characters, `?` one character. */
export const GlobPattern = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .regex(/^[A-Za-z0-9_\-.*?/:@]+$/, 'may only contain letters, digits, _ - . / : @ and the wildcards * and ?');

const MetadataRefOrValue = z.union([z.string().max(1024), z.number(), z.boolean()]);

/** A string value may reference key metadata: `${key.metadata.customer_id}`. */
export const ParamConstraint = z
  .object({
    equals: MetadataRefOrValue.optional(),
    oneOf: z.array(MetadataRefOrValue).min(1).max(256).optional(),
    pattern: z
      .string()
      .max(512)
      .refine(
        (p) => {
          try {
            new RegExp(p, 'u');
            return true;
          } catch {
            return false;
          }
        },
        { message: 'is not a valid regular expression' },
      )
      .optional(),
    max: z.number().finite().optional(),
    min: z.number().finite().optional(),
    maxLength: z.number().int().nonnegative().optional(),
    required: z.boolean().optional(),
  })
  .strict()
  .refine((c) => Object.keys(c).length > 0, { message: 'a constraint needs at least one condition' })
  .refine((c) => c.min === undefined || c.max === undefined || c.min <= c.max, {
    message: 'min must not exceed max',
  });
export type ParamConstraint = z.infer<typeof ParamConstraint>;

export const Effect = z.enum(['allow', 'deny']);
export type Effect = z.infer<typeof Effect>;

export const ToolRule = z
  .object({
    effect: Effect,
    /** `server__tool` glob, e.g. `github__*` or `*__read_*`. */
    match: GlobPattern,
    /** Parameter constraints, keyed by argument name (only meaningful on allow rules). */
    constraints: z.record(z.string().min(1).max(128), ParamConstraint).optional(),
  })
  .strict();
export type ToolRule = z.infer<typeof ToolRule>;

export const PromptRule = z.object({ effect: Effect, match: GlobPattern }).strict();
export type PromptRule = z.infer<typeof PromptRule>;

export const ResourceRule = z
  .object({
    effect: Effect,
    /** Server slug glob (default `*`). */
    server: GlobPattern.optional(),
    /** Resource URI glob, e.g. `file:///repo/*`. */
    uri: z.string().min(1).max(1024),
  })
  .strict();
export type ResourceRule = z.infer<typeof ResourceRule>;

export const RateLimitRule = z
  .object({
    /** `key`: one bucket per agent key; `tool`: one bucket per key and tool. */
    scope: z.enum(['key', 'tool']),
    perMinute: z.number().int().min(1).max(1_000_000),
    burst: z.number().int().min(1).max(1_000_000).optional(),
    /** For `tool` scope: which tools (glob, default `*`). */
    match: GlobPattern.optional(),
  })
  .strict();
export type RateLimitRule = z.infer<typeof RateLimitRule>;

export const RedactionRule = z
  .object({
    name: z.string().min(1).max(64),
    pattern: z
      .string()
      .min(1)
      .max(512)
      .refine(
        (p) => {
          try {
            new RegExp(p, 'gu');
            return true;
          } catch {
            return false;
          }
        },
        { message: 'is not a valid regular expression' },
      ),
    replacement: z.string().max(64).optional(),
  })
  .strict();
export type RedactionRule = z.infer<typeof RedactionRule>;

const ipv4Cidr = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(\/([0-9]|[12]\d|3[0-2]))?$/;
const ipv6Cidr = /^[0-9a-fA-F:]+(\/(\d|[1-9]\d|1[01]\d|12[0-8]))?$/;
export const Cidr = z.string().refine((v) => ipv4Cidr.test(v) || (v.includes(':') && ipv6Cidr.test(v)), {
  message: 'must be an IPv4 or IPv6 address or CIDR block',
});

export const RoleRules = z
  .object({
    tools: z.array(ToolRule).max(500).default([]),
    prompts: z.array(PromptRule).max(500).default([]),
    resources: z.array(ResourceRule).max(500).default([]),
    rateLimits: z.array(RateLimitRule).max(50).default([]),
    redact: z.array(RedactionRule).max(50).default([]),
    /** When non-empty, keys with this role may only connect from these addresses. */
    ipAllow: z.array(Cidr).max(200).default([]),
  })
  .strict();
export type RoleRules = z.infer<typeof RoleRules>;
export type RoleRulesInput = z.input<typeof RoleRules>;
