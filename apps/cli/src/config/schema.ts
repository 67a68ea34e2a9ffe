import { NetworkPolicy, RoleRules, ServerIsolation, ServerTransport, Slug } from '@toolgate/contracts';
import { z } from 'zod';

/**
 * The standalone gateway's YAML file (`toolgate.yaml`). Roles use the API's rule language
 * (RoleRules) unchanged; servers and keys are the API's shapes with secrets always referenced,
 * never written in the file. Compiled with @toolgate/policy into the snapshot the gateway serves.
 */
export const CONFIG_VERSION = 1 as const;

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const Name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be letters, digits, _ . - (starting with a letter or digit)');

/**
 * Where a server's env or header value comes from: a plain string is a literal, for values that
 * are not secret; `{env: NAME}` reads this process's environment; `{secret: NAME}` reads the
 * secrets file. Secret values are sealed into the snapshot and redacted from everything that leaves.
 */
export const ValueRef = z.union([z.string().max(8192), z.object({ env: EnvName }).strict(), z.object({ secret: Name }).strict()]);
export type ValueRef = z.infer<typeof ValueRef>;

/** Names of env vars and headers that carry credentials: their value must be referenced, never inline. */
export const SECRET_LOOKING_NAME = /token|secret|passw|api[-_]?key|credential|authorization|cookie|private/i;

export const ServerConfig = z
  .object({
    transport: ServerTransport,
    name: z.string().min(1).max(128).optional(),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    url: z.string().url().optional(),
    env: z.record(z.string().min(1).max(256), ValueRef).default({}),
    headers: z.record(z.string().min(1).max(256), ValueRef).default({}),
    timeoutMs: z.number().int().positive().default(60_000),
    network: NetworkPolicy.optional(),
    isolation: ServerIsolation.optional(),
    tags: z.array(z.string()).default([]),
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.transport === 'stdio' && !s.command)
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'a stdio server needs a command' });
    if (s.transport !== 'stdio' && !s.url) ctx.addIssue({ code: 'custom', path: ['url'], message: `a ${s.transport} server needs a url` });
    for (const field of ['env', 'headers'] as const) {
      for (const [name, ref] of Object.entries(s[field])) {
        if (typeof ref === 'string' && SECRET_LOOKING_NAME.test(name)) {
          ctx.addIssue({
            code: 'custom',
            path: [field, name],
            message: `"${name}" looks like a credential: reference it ({env: NAME} or {secret: NAME}) instead of writing it in the file`,
          });
        }
      }
    }
  });
export type ServerConfig = z.infer<typeof ServerConfig>;

export const KeyConfig = z
  .object({
    roles: z.array(Name).min(1, 'a key needs at least one role'),
    /** sha256 hex of the key, as the platform stores it. */
    hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be the sha256 of the key, 64 lowercase hex digits')
      .optional(),
    /** The environment variable holding the key itself (hashed on load, never kept). */
    env: EnvName.optional(),
    metadata: z.record(z.string(), z.unknown()).default({}),
    expiresAt: z.string().datetime({ offset: true }).optional(),
  })
  .strict()
  .refine((k) => (k.hash === undefined) !== (k.env === undefined), { message: 'a key needs exactly one of hash or env' });
export type KeyConfig = z.infer<typeof KeyConfig>;

export const StandaloneConfig = z
  .object({
    version: z.literal(CONFIG_VERSION),
    /** The endpoint is /mcp/{org}. */
    org: Slug.default('local'),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
    /** `NAME=value` lines; relative to this file. */
    secretsFile: z.string().min(1).optional(),
    /** The hash-chained audit log (NDJSON, the platform export's format); relative to this file. */
    audit: z
      .object({ file: z.string().min(1).default('toolgate-audit.jsonl') })
      .strict()
      .default({ file: 'toolgate-audit.jsonl' }),
    /** Calls, errors, bytes and time per key/server/tool/hour; relative to this file. */
    usage: z
      .object({ file: z.string().min(1).default('toolgate-usage.json') })
      .strict()
      .default({ file: 'toolgate-usage.json' }),
    limits: z
      .object({ monthlyCallQuota: z.number().int().positive().nullable().default(null) })
      .strict()
      .default({ monthlyCallQuota: null }),
    servers: z.record(Slug, ServerConfig).default({}),
    roles: z.record(Name, RoleRules).default({}),
    keys: z.record(Name, KeyConfig).default({}),
  })
  .strict();
export type StandaloneConfig = z.infer<typeof StandaloneConfig>;
