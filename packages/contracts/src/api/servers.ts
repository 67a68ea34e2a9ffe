import { z } from 'zod';
import { NetworkPolicy, ServerIsolation, ServerTransport, ValueSource } from '../snapshot';
import { Slug } from '../slug';
import { McpCatalog } from './catalog';
import { type FieldIssue, httpUrl } from './http-url';

/**
 * The server registry's requests and responses. The per-transport rules (stdio needs a command,
 * HTTP transports need a URL, …) live in `transportIssues()` so that create (a whole config) and
 * update (a patch merged onto the stored config, in the API) enforce exactly the same rules.
 */

/** Environment variable names a POSIX shell would accept. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** RFC 9110 `token`: the characters allowed in a header field name. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Headers the gateway owns: they describe the connection or the MCP session, so letting a server
 * config set them would break framing or hijack sessions. `Authorization` stays allowed because
 * upstreams commonly need it.
 */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
  'mcp-session-id',
  'mcp-protocol-version',
]);

/** What responses show instead of a sensitive literal value; sending it back means "unchanged". */
export const MASK = '••••';

// Control characters other than tab would let a header value smuggle a second header line, and
// NUL cannot be passed through exec() at all.
const hasControlChars = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
};
const hasNul = (s: string): boolean => s.includes('\0');

const MAX_ENTRIES = 100;

const HeaderMap = z.record(z.string(), ValueSource).superRefine((headers, ctx) => {
  const seen = new Map<string, string>();
  const names = Object.keys(headers);
  if (names.length > MAX_ENTRIES) ctx.addIssue({ code: 'custom', message: `must have at most ${MAX_ENTRIES} entries` });
  for (const name of names) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) {
      ctx.addIssue({ code: 'custom', path: [name], message: "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)" });
    } else if (FORBIDDEN_HEADERS.has(lower)) {
      ctx.addIssue({ code: 'custom', path: [name], message: `cannot be set: the gateway manages the ${name} header` });
    }
    const first = seen.get(lower);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: [name], message: `duplicates header ${first} (header names are case-insensitive)` });
    }
    seen.set(lower, name);
    const v = headers[name];
    if (v && 'value' in v && hasControlChars(v.value)) {
      ctx.addIssue({ code: 'custom', path: [name, 'value'], message: 'must not contain control characters or line breaks' });
    }
  }
});

const EnvMap = z.record(z.string(), ValueSource).superRefine((env, ctx) => {
  const names = Object.keys(env);
  if (names.length > MAX_ENTRIES) ctx.addIssue({ code: 'custom', message: `must have at most ${MAX_ENTRIES} entries` });
  for (const name of names) {
    if (!ENV_NAME.test(name)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: 'is not a valid environment variable name (letters, digits and _, not starting with a digit)',
      });
    }
    const v = env[name];
    if (v && 'value' in v && hasNul(v.value)) {
      ctx.addIssue({ code: 'custom', path: [name, 'value'], message: 'must not contain NUL characters' });
    }
  }
});

const Command = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters')
  .refine((s) => !hasNul(s), 'must not contain NUL characters');

const Args = z
  .array(
    z
      .string()
      .max(4096, 'must be at most 4096 characters')
      .refine((s) => !hasNul(s), 'must not contain NUL characters'),
  )
  .max(200, 'must have at most 200 arguments');

/** An absolute http(s) URL without embedded credentials (those belong in a secret header). */
const HttpUrl = httpUrl(2048, 'must not contain credentials; put them in a header that references a secret');

const Tags = z
  .array(
    z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(40, 'must be at most 40 characters')
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/, 'must be letters, digits and _ . : / - (starting with a letter or digit)'),
  )
  .max(20, 'must have at most 20 tags')
  .refine((tags) => new Set(tags).size === tags.length, 'must not contain duplicates');

const Name = z.string().trim().min(1, 'must not be empty').max(120, 'must be at most 120 characters');
const Description = z.string().trim().max(1000, 'must be at most 1000 characters');
const TimeoutMs = z
  .number()
  .int('must be an integer')
  .min(1000, 'must be at least 1000 (1 second)')
  .max(300_000, 'must be at most 300000 (5 minutes)');

/** The transport-dependent part of a server's configuration, as stored. */
export interface TransportConfig {
  transport: ServerTransport;
  command: string | null;
  args: string[];
  network: NetworkPolicy;
  url: string | null;
  headers: Record<string, ValueSource>;
  env: Record<string, ValueSource>;
}

/** Which fields a transport requires and forbids, as field errors (empty when the config is consistent). */
export function transportIssues(c: TransportConfig): FieldIssue[] {
  const errors: FieldIssue[] = [];
  if (c.transport === 'stdio') {
    if (!c.command) errors.push({ path: 'command', message: 'is required for the stdio transport' });
    if (c.url !== null)
      errors.push({ path: 'url', message: 'is not allowed for the stdio transport (stdio servers are started with command/args)' });
    if (Object.keys(c.headers).length > 0) {
      errors.push({ path: 'headers', message: 'are not allowed for the stdio transport (use env to pass credentials)' });
    }
  } else {
    const t = c.transport;
    if (!c.url) errors.push({ path: 'url', message: `is required for the ${t} transport` });
    if (c.command !== null) errors.push({ path: 'command', message: `is not allowed for the ${t} transport (it connects to url)` });
    if (c.args.length > 0) errors.push({ path: 'args', message: `are not allowed for the ${t} transport` });
    if (Object.keys(c.env).length > 0) {
      errors.push({ path: 'env', message: `is not allowed for the ${t} transport (use headers to pass credentials)` });
    }
    if (c.network !== 'none') {
      errors.push({
        path: 'network',
        message: `must be none for the ${t} transport (the gateway itself connects to url; only stdio servers run in a sandbox)`,
      });
    }
  }
  return errors;
}

/** `POST /v1/orgs/:org/servers`. */
export const CreateServerRequest = z
  .object({
    slug: Slug,
    name: Name,
    description: Description.optional(),
    transport: ServerTransport,
    command: Command.optional(),
    args: Args.optional(),
    network: NetworkPolicy.optional(),
    /** Absent = the transport's default (per-key for stdio, per-session for HTTP). */
    isolation: ServerIsolation.optional(),
    url: HttpUrl.optional(),
    headers: HeaderMap.optional(),
    env: EnvMap.optional(),
    enabled: z.boolean().optional(),
    tags: Tags.optional(),
    timeoutMs: TimeoutMs.optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    // zod still runs this refinement when a field failed; an invalid transport has its own error.
    if (!ServerTransport.safeParse(d.transport).success) return;
    const issues = transportIssues({
      transport: d.transport,
      command: d.command ?? null,
      args: d.args ?? [],
      network: d.network ?? 'none',
      url: d.url ?? null,
      headers: d.headers ?? {},
      env: d.env ?? {},
    });
    for (const i of issues) ctx.addIssue({ code: 'custom', path: [i.path], message: i.message });
  });
export type CreateServerRequest = z.input<typeof CreateServerRequest>;

/**
 * `PATCH /v1/orgs/:org/servers/:id`: a partial update. `description`, `command` and `url` may be
 * set to null to clear them. When `transport` changes, the fields of the old transport that the
 * patch does not mention are cleared (in the API), so switching stdio → HTTP needs only
 * `{transport, url}`.
 */
export const UpdateServerRequest = z
  .object({
    slug: Slug.optional(),
    name: Name.optional(),
    description: Description.nullable().optional(),
    transport: ServerTransport.optional(),
    command: Command.nullable().optional(),
    args: Args.optional(),
    network: NetworkPolicy.optional(),
    /** null = back to the transport's default. */
    isolation: ServerIsolation.nullable().optional(),
    url: HttpUrl.nullable().optional(),
    headers: HeaderMap.optional(),
    env: EnvMap.optional(),
    enabled: z.boolean().optional(),
    tags: Tags.optional(),
    timeoutMs: TimeoutMs.optional(),
  })
  .strict()
  .refine((d) => Object.keys(d).length > 0, { message: 'nothing to update' });
export type UpdateServerRequest = z.input<typeof UpdateServerRequest>;

/** `GET /v1/orgs/:org/servers?tag&enabled`. */
export const ListServersQuery = z
  .object({
    /** Only servers carrying this tag. */
    tag: z.string().trim().min(1).max(40).optional(),
    enabled: z
      .enum(['true', 'false'], { message: 'must be true or false' })
      .transform((v) => v === 'true')
      .optional(),
  })
  .strict();

/** Derived from the last probe: never probed, last probe succeeded, last probe failed. */
export const ServerHealth = z.enum(['unknown', 'ok', 'error']);
export type ServerHealth = z.output<typeof ServerHealth>;

/** The configuration part of a server, credential-like literals masked: also the activity log's before/after. */
export const ServerConfigView = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  transport: ServerTransport,
  command: z.string().nullable(),
  args: z.array(z.string()),
  network: NetworkPolicy,
  /** What the gateway runs with: the admin's choice or the transport's default. */
  isolation: ServerIsolation,
  url: z.string().nullable(),
  headers: z.record(z.string(), ValueSource),
  env: z.record(z.string(), ValueSource),
  enabled: z.boolean(),
  tags: z.array(z.string()),
  timeoutMs: z.number(),
});
export type ServerConfigView = z.output<typeof ServerConfigView>;

/** A server as every read shows it: configuration, catalogue, probe state and the gateway endpoints. */
export const ServerView = ServerConfigView.extend({
  catalog: McpCatalog.nullable(),
  catalogFetchedAt: z.string().nullable(),
  lastProbeAt: z.string().nullable(),
  lastProbeError: z.string().nullable(),
  health: ServerHealth,
  endpoints: z.object({ aggregated: z.string(), server: z.string() }),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ServerView = z.output<typeof ServerView>;
