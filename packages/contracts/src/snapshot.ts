import { z } from 'zod';
import { RoleRules } from './rules';

/**
 * The compiled policy snapshot: everything a gateway worker knows about one org.
 * Written by the API to Redis `tg:snapshot:{orgId}`; parsed by the gateway on load.
 * Bump SNAPSHOT_SCHEMA_VERSION on any incompatible change.
 */
export const SNAPSHOT_SCHEMA_VERSION = 1 as const;

/** A value taken literally or from an org secret (decrypted only by the gateway, only for a backend). */
export const ValueSource = z.union([
  z.object({ value: z.string().max(8192, 'must be at most 8192 characters') }).strict(),
  z.object({ secret: z.string().min(1, 'must name a secret').max(128, 'must be at most 128 characters') }).strict(),
]);
export type ValueSource = z.infer<typeof ValueSource>;

export const ServerTransport = z.enum(['stdio', 'streamable-http', 'sse']);
export type ServerTransport = z.infer<typeof ServerTransport>;

/**
 * What a stdio server's sandbox may reach: `none` is an empty network namespace; `egress` is
 * outbound to public addresses only (host loopback, link-local/metadata and private ranges stay
 * unreachable unless the operator allows a range). HTTP/SSE servers are reached by the gateway
 * itself and ignore it.
 */
export const NetworkPolicy = z.enum(['none', 'egress']);
export type NetworkPolicy = z.infer<typeof NetworkPolicy>;

/**
 * Who shares a server's upstream (its stdio process, its upstream session): `per-session` one
 * per agent session, `per-key` one per agent key, `shared` one per org (stateless servers only:
 * agents of the org then share its state). Unset = the transport's default, effectiveIsolation().
 */
export const ServerIsolation = z.enum(['per-session', 'per-key', 'shared']);
export type ServerIsolation = z.infer<typeof ServerIsolation>;

/**
 * The isolation a server runs with: its own, else per-key for stdio (a process per agent key
 * costs a process, not a connection) and per-session for HTTP/SSE (an upstream session is cheap).
 * The one place this default is decided.
 */
export function effectiveIsolation(server: { transport: ServerTransport; isolation?: ServerIsolation | null }): ServerIsolation {
  return server.isolation ?? (server.transport === 'stdio' ? 'per-key' : 'per-session');
}

export const SnapshotKey = z.object({
  id: z.string(),
  name: z.string(),
  /** Visible prefix, e.g. `tg_AbC12345` (for logs and lookups). */
  prefix: z.string(),
  /** sha256 hex of the full secret key. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  roleIds: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  expiresAt: z.string().datetime().nullable(),
});
export type SnapshotKey = z.infer<typeof SnapshotKey>;

/**
 * A live OAuth grant: a person's consent that an OAuth client may act as these roles on one
 * endpoint. Its access tokens carry `gid` = id; the gateway treats a grant like an agent key
 * (policy, limits, quotas, usage and audit under keyId = id). Revoked grants are left out.
 */
export const SnapshotGrant = z.object({
  id: z.string(),
  clientId: z.string(),
  clientName: z.string(),
  /** The person who consented. */
  userId: z.string(),
  userEmail: z.string(),
  roleIds: z.array(z.string()),
  /** Canonical endpoint URL the grant's tokens are for (see canonicalResource). */
  resource: z.string(),
});
export type SnapshotGrant = z.infer<typeof SnapshotGrant>;

export const SnapshotServer = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  transport: ServerTransport,
  command: z.string().nullable(),
  args: z.array(z.string()),
  url: z.string().nullable(),
  headers: z.record(z.string(), ValueSource),
  env: z.record(z.string(), ValueSource),
  timeoutMs: z.number().int().positive(),
  tags: z.array(z.string()),
  /** Snapshots compiled before network policies existed parse as `none`. */
  network: NetworkPolicy.default('none'),
  /** Absent in snapshots compiled before isolation modes: read it through effectiveIsolation(). */
  isolation: ServerIsolation.optional(),
});
export type SnapshotServer = z.infer<typeof SnapshotServer>;

/** An AES-256-GCM sealed secret: `v1.<iv b64>.<tag b64>.<ciphertext b64>`. */
export const SealedSecret = z.string().regex(/^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]*$/);

export const SnapshotRole = z.object({
  id: z.string(),
  name: z.string(),
  rules: RoleRules,
});
export type SnapshotRole = z.infer<typeof SnapshotRole>;

export const PolicySnapshot = z.object({
  schemaVersion: z.literal(SNAPSHOT_SCHEMA_VERSION),
  orgId: z.string(),
  orgSlug: z.string(),
  version: z.number().int().positive(),
  compiledAt: z.string().datetime(),
  plan: z.object({
    name: z.string(),
    /** Calls allowed per calendar month (UTC); null = unlimited. */
    monthlyCallQuota: z.number().int().positive().nullable(),
  }),
  /** Active keys only: revoked keys are left out, expired keys carry expiresAt. */
  keys: z.array(SnapshotKey),
  /** Live OAuth grants; snapshots compiled before OAuth parse with none. */
  grants: z.array(SnapshotGrant).default([]),
  /** Enabled servers only. */
  servers: z.array(SnapshotServer),
  roles: z.array(SnapshotRole),
  /** Sealed secret values by name, only those referenced by an enabled server. */
  secrets: z.record(z.string(), SealedSecret),
});
export type PolicySnapshot = z.infer<typeof PolicySnapshot>;

/**
 * Written to `redisKeys.snapshotTombstone(orgId)` when an org is deleted. Its version is above
 * every snapshot version the org had, but a tombstone wins whatever the versions say.
 */
export const SnapshotTombstone = z.object({
  orgId: z.string(),
  orgSlug: z.string(),
  version: z.number().int().positive(),
  deleted: z.literal(true),
  deletedAt: z.string().datetime(),
});
export type SnapshotTombstone = z.infer<typeof SnapshotTombstone>;

/**
 * Published on channels.snapshots after the snapshot (or tombstone) is in Redis. `deleted` marks
 * a tombstone: workers drop the org whatever version they hold.
 */
export const SnapshotNotice = z.object({
  orgId: z.string(),
  version: z.number().int().positive(),
  deleted: z.boolean().optional(),
});
export type SnapshotNotice = z.infer<typeof SnapshotNotice>;
