import {
  PolicySnapshot,
  RoleRules,
  SNAPSHOT_SCHEMA_VERSION,
  type ServerTransport,
  type SnapshotGrant,
  type SnapshotKey,
  type SnapshotRole,
  type NetworkPolicy,
  effectiveIsolation,
  type ServerIsolation,
  type SnapshotServer,
  ValueSource,
} from '@toolgate/contracts';
import { formatIssues, PolicyCompileError } from './errors';
import { parseCidr } from './ip';

/**
 * The org's data as the API reads it from Postgres, as plain objects. JSON columns
 * (`metadata`, `headers`, `env`, `rules`) are validated here, so rows may be passed as they are.
 */
export interface CompileInput {
  readonly org: {
    readonly id: string;
    readonly slug: string;
    readonly plan: string;
    /** Calls per calendar month (UTC); null = unlimited. */
    readonly monthlyCallQuota: number | null;
  };
  /** The snapshot version (the org's bumped snapshotVersion); a positive integer. */
  readonly version: number;
  readonly compiledAt: Date;
  readonly keys: readonly CompileKeyInput[];
  /** Live OAuth grants (revoked ones left out by the caller); absent = none. */
  readonly grants?: readonly SnapshotGrant[];
  readonly servers: readonly CompileServerInput[];
  readonly roles: readonly CompileRoleInput[];
  /** Secret name → sealed value (`v1.<iv>.<tag>.<ciphertext>`). Only referenced ones are copied. */
  readonly secrets: Readonly<Record<string, string>>;
}

export interface CompileKeyInput {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  /** sha256 hex of the full secret key. */
  readonly hash: string;
  /** Role ids; ids of roles not in `roles` are dropped. */
  readonly roleIds: readonly string[];
  /** Must be a JSON object (null/undefined count as `{}`). */
  readonly metadata: Readonly<Record<string, unknown>> | null | undefined;
  readonly expiresAt: Date | null;
  /** Revoked keys are left out of the snapshot. */
  readonly revokedAt: Date | null;
}

export interface CompileServerInput {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  /** Prisma's enum spelling `streamable_http` is accepted too. */
  readonly transport: ServerTransport | 'streamable_http';
  readonly command: string | null;
  readonly args: readonly string[];
  readonly url: string | null;
  /** Header name → {value} | {secret}. */
  readonly headers: Readonly<Record<string, ValueSource>> | null | undefined;
  /** Env var → {value} | {secret}. */
  readonly env: Readonly<Record<string, ValueSource>> | null | undefined;
  /** Disabled servers are left out of the snapshot (and their secrets with them). */
  readonly enabled: boolean;
  readonly tags: readonly string[];
  readonly timeoutMs: number;
  /** A stdio server's sandbox network; absent = `none`. */
  readonly network?: NetworkPolicy;
  /** Who shares the server's upstream; absent or null = the transport's default. Prisma's `per_key`/`per_session` accepted too. */
  readonly isolation?: ServerIsolation | 'per_key' | 'per_session' | null;
}

export interface CompileRoleInput {
  readonly id: string;
  readonly name: string;
  /** Stored JSON; parsed with RoleRules (defaults applied). */
  readonly rules: unknown;
}

/**
 * Compiles an org's data into its PolicySnapshot. Pure and deterministic: keys and roles are
 * sorted by id, servers by slug, object keys (metadata, headers, env, secrets) alphabetically,
 * tags sorted and de-duplicated, so equal inputs give byte-identical JSON. Rule order inside a
 * role and server `args` keep their order (it is meaningful).
 *
 * @throws PolicyCompileError naming the offending role / server / secret / key.
 */
export function compile(input: CompileInput): PolicySnapshot {
  const roles = [...input.roles].sort(byString((r) => r.id)).map(compileRole);
  const roleIds = new Set(roles.map((r) => r.id));

  const keys = input.keys
    .filter((key) => key.revokedAt === null || key.revokedAt === undefined)
    .sort(byString((k) => k.id))
    .map((key) => compileKey(key, roleIds));
  assertUnique(
    keys,
    (k) => k.hash,
    (a, b) => `keys "${a.name}" and "${b.name}" have the same hash`,
  );

  const servers = input.servers
    .filter((server) => server.enabled)
    .sort(byString((s) => s.slug))
    .map(compileServer);
  assertUnique(
    servers,
    (s) => s.slug,
    (_a, _b, slug) => `two enabled servers have the slug "${slug}"`,
  );

  const candidate = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    orgId: input.org.id,
    orgSlug: input.org.slug,
    version: input.version,
    compiledAt: isoDate(input.compiledAt, 'compiledAt'),
    plan: { name: input.org.plan, monthlyCallQuota: input.org.monthlyCallQuota },
    keys,
    grants: [...(input.grants ?? [])]
      .sort(byString((g) => g.id))
      .map((g) => ({ ...g, roleIds: g.roleIds.filter((id) => roleIds.has(id)).sort() })),
    servers,
    roles,
    secrets: referencedSecrets(servers, input.secrets),
  };

  const parsed = PolicySnapshot.safeParse(candidate);
  if (!parsed.success) {
    throw new PolicyCompileError(
      'invalid_snapshot',
      `the compiled snapshot is invalid: ${describeSnapshotIssues(parsed.error, candidate)}`,
    );
  }
  return parsed.data;
}

function compileRole(role: CompileRoleInput): SnapshotRole {
  const parsed = RoleRules.safeParse(role.rules);
  if (!parsed.success) {
    throw new PolicyCompileError('invalid_role_rules', `role "${role.name}" has invalid rules: ${formatIssues(parsed.error)}`, {
      role: role.name,
    });
  }
  // The contract's IPv6 check is a loose character test; make sure the gateway can use every entry.
  parsed.data.ipAllow.forEach((entry, i) => {
    if (parseCidr(entry) === null) {
      throw new PolicyCompileError(
        'invalid_role_rules',
        `role "${role.name}" has invalid rules: ipAllow[${i}]: "${entry}" is not a valid IP address or CIDR block`,
        { role: role.name },
      );
    }
  });
  return { id: role.id, name: role.name, rules: parsed.data };
}

function compileKey(key: CompileKeyInput, knownRoleIds: ReadonlySet<string>): SnapshotKey {
  const metadata = key.metadata ?? {};
  if (typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new PolicyCompileError('invalid_snapshot', `key "${key.name}" has metadata that is not a JSON object`, { key: key.name });
  }
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    hash: key.hash,
    roleIds: [...new Set(key.roleIds)].filter((id) => knownRoleIds.has(id)).sort(byString((id) => id)),
    metadata: canonical(metadata) as Record<string, unknown>,
    expiresAt: key.expiresAt === null || key.expiresAt === undefined ? null : isoDate(key.expiresAt, `expiresAt of key "${key.name}"`),
  };
}

/** One server as the snapshot carries it (also what a probe request carries). */
export function compileServer(server: CompileServerInput): SnapshotServer {
  const transport = server.transport === 'streamable_http' ? 'streamable-http' : server.transport;
  return {
    id: server.id,
    slug: server.slug,
    name: server.name,
    transport,
    command: server.command ?? null,
    args: [...server.args],
    url: server.url ?? null,
    headers: valueSources(server, 'headers'),
    env: valueSources(server, 'env'),
    timeoutMs: server.timeoutMs,
    tags: [...new Set(server.tags)].sort(byString((t) => t)),
    network: server.network ?? 'none',
    isolation: effectiveIsolation({ transport, isolation: server.isolation?.replace('_', '-') as ServerIsolation | undefined }),
  };
}

/** Validates a headers/env JSON column and returns it with sorted keys. */
function valueSources(server: CompileServerInput, field: 'headers' | 'env'): Record<string, ValueSource> {
  const raw: unknown = server[field] ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PolicyCompileError('invalid_server', `server "${server.slug}" has ${field} that is not an object`, { server: server.slug });
  }
  const out: Record<string, ValueSource> = {};
  for (const name of Object.keys(raw).sort(byString((n) => n))) {
    const parsed = ValueSource.safeParse((raw as Record<string, unknown>)[name]);
    if (!parsed.success) {
      throw new PolicyCompileError(
        'invalid_server',
        `server "${server.slug}" has an invalid ${field} entry "${name}": expected {value} or {secret}`,
        { server: server.slug },
      );
    }
    out[name] = parsed.data;
  }
  return out;
}

/** The sealed secrets referenced by the (enabled, sorted) servers, sorted by name. */
function referencedSecrets(servers: readonly SnapshotServer[], secrets: Readonly<Record<string, string>>): Record<string, string> {
  const names = new Set<string>();
  for (const server of servers) {
    for (const [field, sources] of [
      ['header', server.headers],
      ['env', server.env],
    ] as const) {
      for (const [entry, source] of Object.entries(sources)) {
        if (!('secret' in source)) continue;
        if (!Object.hasOwn(secrets, source.secret)) {
          throw new PolicyCompileError(
            'missing_secret',
            `server "${server.slug}" references secret "${source.secret}" (${field} ${entry}), which does not exist`,
            { server: server.slug, secret: source.secret },
          );
        }
        names.add(source.secret);
      }
    }
  }
  const out: Record<string, string> = {};
  for (const name of [...names].sort(byString((n) => n))) out[name] = secrets[name];
  return out;
}

/** Throws a 'duplicate' error for the first two items sharing `keyOf`. */
function assertUnique<T>(items: readonly T[], keyOf: (item: T) => string, message: (first: T, second: T, key: string) => string): void {
  const seen = new Map<string, T>();
  for (const item of items) {
    const key = keyOf(item);
    const first = seen.get(key);
    if (first !== undefined) throw new PolicyCompileError('duplicate', message(first, item, key));
    seen.set(key, item);
  }
}

function isoDate(date: Date, what: string): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new PolicyCompileError('invalid_snapshot', `${what} is not a valid date`);
  }
  return date.toISOString();
}

/** Code-unit order (not locale order, which varies between machines). */
function byString<T>(keyOf: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = keyOf(a);
    const y = keyOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

/** A JSON value with object keys sorted recursively, so equal metadata serializes identically. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort(byString((k) => k))) out[key] = canonical((value as Record<string, unknown>)[key]);
  return out;
}

/** Like formatIssues, but names the key/server/role an issue is about (`key "ci".hash: ...`). */
function describeSnapshotIssues(
  error: Parameters<typeof formatIssues>[0],
  candidate: { keys: readonly { name: string }[]; servers: readonly { slug: string }[]; roles: readonly { name: string }[] },
): string {
  const named = error.issues.map((issue) => {
    const [collection, index, ...rest] = issue.path;
    if (typeof index !== 'number') return issue;
    const label =
      collection === 'keys'
        ? `key "${candidate.keys[index]?.name}"`
        : collection === 'servers'
          ? `server "${candidate.servers[index]?.slug}"`
          : collection === 'roles'
            ? `role "${candidate.roles[index]?.name}"`
            : null;
    return label === null ? issue : { ...issue, path: [label, ...rest] };
  });
  return formatIssues({ issues: named });
}
