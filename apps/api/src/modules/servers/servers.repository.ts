import { Injectable } from '@nestjs/common';
import type { NetworkPolicy, ServerCatalog, ServerIsolation, ServerTransport, ValueSource } from '@toolgate/contracts';
import { type McpServer, Prisma, ServerIsolation as DbIsolation, ServerTransport as DbTransport, type Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';

/**
 * A registered MCP server as the rest of the module sees it. Prisma spells the transport
 * `streamable_http` and the isolation modes `per_key`/`per_session` (an identifier cannot contain
 * `-`); this boundary converts them so everything above the repository, and the API, speaks
 * `streamable-http`, `per-key` and `per-session`.
 */
export interface ServerRecord {
  id: string;
  orgId: string;
  slug: string;
  name: string;
  description: string | null;
  transport: ServerTransport;
  command: string | null;
  args: string[];
  /** stdio only; `none` for HTTP transports. */
  network: NetworkPolicy;
  /** As the admin chose it; null = the transport's default (read it through effectiveIsolation). */
  isolation: ServerIsolation | null;
  url: string | null;
  headers: Record<string, ValueSource>;
  env: Record<string, ValueSource>;
  enabled: boolean;
  tags: string[];
  timeoutMs: number;
  catalog: ServerCatalog | null;
  catalogFetchedAt: Date | null;
  lastProbeError: string | null;
  lastProbeAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The columns a create or update may write. */
export type ServerWrite = Pick<
  ServerRecord,
  | 'slug'
  | 'name'
  | 'description'
  | 'transport'
  | 'command'
  | 'args'
  | 'network'
  | 'isolation'
  | 'url'
  | 'headers'
  | 'env'
  | 'enabled'
  | 'tags'
  | 'timeoutMs'
>;

/** The outcome of a probe: a fresh catalog, or an error message. */
type ProbeWrite = { at: Date; catalog: ServerCatalog; error?: undefined } | { at: Date; error: string; catalog?: undefined };

const toDbTransport = (t: ServerTransport): DbTransport => (t === 'streamable-http' ? DbTransport.streamable_http : t);
const fromDbTransport = (t: DbTransport): ServerTransport => (t === DbTransport.streamable_http ? 'streamable-http' : t);
const toDbIsolation = (i: ServerIsolation | null): DbIsolation | null =>
  i === null ? null : i === 'per-key' ? DbIsolation.per_key : i === 'per-session' ? DbIsolation.per_session : DbIsolation.shared;
const fromDbIsolation = (i: DbIsolation | null): ServerIsolation | null =>
  i === null ? null : i === DbIsolation.per_key ? 'per-key' : i === DbIsolation.per_session ? 'per-session' : 'shared';
const json = (v: unknown) => v as Prisma.InputJsonValue;

function toRecord(row: McpServer): ServerRecord {
  return {
    ...row,
    transport: fromDbTransport(row.transport),
    isolation: fromDbIsolation(row.isolation),
    // Written only by this repository from validated DTOs, so the shapes are known.
    headers: (row.headers ?? {}) as Record<string, ValueSource>,
    env: (row.env ?? {}) as Record<string, ValueSource>,
    catalog: (row.catalog ?? null) as ServerCatalog | null,
  };
}

function toData(w: Partial<ServerWrite>) {
  const { transport, isolation, headers, env, ...rest } = w;
  return {
    ...rest,
    ...(transport !== undefined ? { transport: toDbTransport(transport) } : {}),
    ...(isolation !== undefined ? { isolation: toDbIsolation(isolation) } : {}),
    ...(headers !== undefined ? { headers: json(headers) } : {}),
    ...(env !== undefined ? { env: json(env) } : {}),
  };
}

@Injectable()
export class ServersRepository {
  constructor(private readonly prisma: PrismaService) {}

  async list(orgId: string, filter: { tag?: string; enabled?: boolean } = {}): Promise<ServerRecord[]> {
    const rows = await this.prisma.db.mcpServer.findMany({
      where: {
        orgId,
        ...(filter.tag !== undefined ? { tags: { has: filter.tag } } : {}),
        ...(filter.enabled !== undefined ? { enabled: filter.enabled } : {}),
      },
      orderBy: [{ slug: 'asc' }],
    });
    return rows.map(toRecord);
  }

  /** One server of the org, or null (also for another org's server). Pass `tx` to read inside a change. */
  async get(orgId: string, id: string, tx?: Tx): Promise<ServerRecord | null> {
    const row = await (tx ?? this.prisma.db).mcpServer.findFirst({ where: { id, orgId } });
    return row ? toRecord(row) : null;
  }

  /**
   * Lock the org row for the rest of the transaction. Server writes and secret deletions both
   * take this lock first, so a secret cannot vanish between our existence check and the commit.
   * (The snapshot compile takes the same lock later anyway.)
   */
  async lockOrg(tx: Tx, orgId: string): Promise<void> {
    await tx.$queryRaw`SELECT 1 FROM "Organization" WHERE "id" = ${orgId}::uuid FOR UPDATE`;
  }

  async slugTaken(tx: Tx, orgId: string, slug: string, exceptId?: string): Promise<boolean> {
    const row = await tx.mcpServer.findFirst({
      where: { orgId, slug, ...(exceptId ? { id: { not: exceptId } } : {}) },
      select: { id: true },
    });
    return row !== null;
  }

  async create(tx: Tx, orgId: string, data: ServerWrite): Promise<ServerRecord> {
    const row = await tx.mcpServer.create({
      data: { ...toData(data), orgId } as Prisma.McpServerUncheckedCreateInput,
    });
    return toRecord(row);
  }

  async update(tx: Tx, orgId: string, id: string, data: Partial<ServerWrite>): Promise<ServerRecord> {
    const row = await tx.mcpServer.update({ where: { id, orgId }, data: toData(data) });
    return toRecord(row);
  }

  async delete(tx: Tx, orgId: string, id: string): Promise<void> {
    await tx.mcpServer.delete({ where: { id, orgId } });
  }

  /**
   * Store a probe result. A success replaces the catalog and clears the error; a failure keeps
   * the last good catalog (the gateway may still be serving it) and records the error.
   * `configAt` is the `updatedAt` of the config that was probed: the result is stored only if the
   * config is still that one, and `updatedAt` keeps meaning "config last changed".
   */
  async recordProbe(tx: Tx, orgId: string, id: string, configAt: Date, probe: ProbeWrite): Promise<'stored' | 'changed' | 'gone'> {
    const data: Prisma.McpServerUpdateManyMutationInput = probe.catalog
      ? { catalog: json(probe.catalog), catalogFetchedAt: probe.at, lastProbeAt: probe.at, lastProbeError: null, updatedAt: configAt }
      : { lastProbeAt: probe.at, lastProbeError: probe.error, updatedAt: configAt };
    const { count } = await tx.mcpServer.updateMany({ where: { id, orgId, updatedAt: configAt }, data });
    if (count === 1) return 'stored';
    return (await this.get(orgId, id, tx)) ? 'changed' : 'gone';
  }

  /** Which of `names` exist as secrets of the org. */
  async existingSecretNames(tx: Tx, orgId: string, names: string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows = await tx.secret.findMany({ where: { orgId, name: { in: names } }, select: { name: true } });
    return new Set(rows.map((r) => r.name));
  }

  /** Sealed values of the named secrets of the org (opened only by the prober, in memory). */
  async sealedSecrets(orgId: string, names: string[]): Promise<Map<string, string>> {
    if (names.length === 0) return new Map();
    const rows = await this.prisma.db.secret.findMany({
      where: { orgId, name: { in: names } },
      select: { name: true, sealed: true },
    });
    return new Map(rows.map((r) => [r.name, r.sealed]));
  }
}
