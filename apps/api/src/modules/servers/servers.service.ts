import { Inject, Injectable } from '@nestjs/common';
import type { ValueSource } from '@toolgate/contracts';
import { isPrismaError, PrismaErrorCode, type Tx } from '@toolgate/db';
import { compileServer, PolicyCompileError } from '@toolgate/policy';
import type { AuthUser, OrgContext } from '../../common/auth';
import { ErrorCode, type FieldError, Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { OrgChangeService } from '../snapshots/org-change.service';
import { ProbeClient, type ProbeOutcome } from './probe.client';
import { MASK, transportIssues } from '@toolgate/contracts';
import type { CreateServerInput, ListServersInput, UpdateServerInput } from './servers.dto';
import { type ServerRecord, ServersRepository, type ServerWrite } from './servers.repository';
import { configView, serverView } from './servers.view';
import { assertLauncherAllowed } from './stdio-launchers';

type ValueMap = Record<string, ValueSource>;

@Injectable()
export class ServersService {
  /** Servers being probed by this process: one probe per server at a time. */
  private readonly probing = new Set<string>();

  constructor(
    private readonly repo: ServersRepository,
    private readonly changes: OrgChangeService,
    private readonly prober: ProbeClient,
    @Inject(ENV) private readonly env: Env,
  ) {}

  private view(org: OrgContext, s: ServerRecord) {
    return serverView(s, { gatewayUrl: this.env.PUBLIC_GATEWAY_URL, orgSlug: org.slug });
  }

  async list(org: OrgContext, q: ListServersInput) {
    const rows = await this.repo.list(org.id, q);
    return { items: rows.map((s) => this.view(org, s)) };
  }

  async get(org: OrgContext, id: string) {
    return this.view(org, await this.mustGet(org.id, id));
  }

  async create(user: AuthUser, org: OrgContext, dto: CreateServerInput) {
    const headers = keepMasked(dto.headers ?? {}, {}, 'headers', false);
    const env = keepMasked(dto.env ?? {}, {}, 'env', true);
    throwIfAny([...headers.errors, ...env.errors]);
    if (dto.command !== undefined) assertLauncherAllowed(dto.command, this.env.STDIO_ALLOWED_COMMANDS);
    const data: ServerWrite = {
      slug: dto.slug,
      name: dto.name,
      description: dto.description || null,
      transport: dto.transport,
      command: dto.command ?? null,
      args: dto.args ?? [],
      network: dto.network ?? 'none',
      isolation: dto.isolation ?? null,
      url: dto.url ?? null,
      headers: headers.values,
      env: env.values,
      enabled: dto.enabled ?? true,
      tags: dto.tags ?? [],
      timeoutMs: dto.timeoutMs ?? 30_000,
    };
    const created = await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      await this.repo.lockOrg(tx, org.id);
      await this.assertSlugFree(tx, org.id, data.slug);
      await this.assertSecretsExist(tx, org.id, { headers: data.headers, env: data.env });
      const server = await this.writeOrConflict(data.slug, () => this.repo.create(tx, org.id, data));
      await log({ action: 'server.created', targetType: 'server', targetId: server.id, after: configView(server) });
      return server;
    });
    return this.view(org, created);
  }

  /**
   * A partial update, validated as a whole: the patch is merged onto the stored config and the
   * result must satisfy the transport rules. When the transport changes, fields that belong only
   * to the old transport and that the patch does not mention are cleared.
   */
  async update(user: AuthUser, org: OrgContext, id: string, dto: UpdateServerInput) {
    const updated = await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      await this.repo.lockOrg(tx, org.id);
      const before = await this.repo.get(org.id, id, tx);
      if (!before) throw Problem.notFound('Server');

      const headers = dto.headers && keepMasked(dto.headers, before.headers, 'headers', false);
      const env = dto.env && keepMasked(dto.env, before.env, 'env', true);
      throwIfAny([...(headers?.errors ?? []), ...(env?.errors ?? [])]);

      const next: ServerWrite = {
        slug: dto.slug ?? before.slug,
        name: dto.name ?? before.name,
        description: dto.description !== undefined ? dto.description || null : before.description,
        transport: dto.transport ?? before.transport,
        command: dto.command !== undefined ? dto.command : before.command,
        args: dto.args ?? before.args,
        network: dto.network ?? before.network,
        isolation: dto.isolation !== undefined ? dto.isolation : before.isolation,
        url: dto.url !== undefined ? dto.url : before.url,
        headers: headers?.values ?? before.headers,
        env: env?.values ?? before.env,
        enabled: dto.enabled ?? before.enabled,
        tags: dto.tags ?? before.tags,
        timeoutMs: dto.timeoutMs ?? before.timeoutMs,
      };
      if (next.transport !== before.transport) {
        if (next.transport === 'stdio') {
          if (dto.url === undefined) next.url = null;
          if (dto.headers === undefined) next.headers = {};
        } else if (before.transport === 'stdio') {
          if (dto.command === undefined) next.command = null;
          if (dto.args === undefined) next.args = [];
          if (dto.env === undefined) next.env = {};
          if (dto.network === undefined) next.network = 'none';
        }
      }
      throwIfAny(transportIssues(next));
      // Like secret references, only a command this patch sets (or revives by switching to stdio)
      // is checked, so a server whose launcher the operator withdrew can still be disabled.
      const launches = dto.command !== undefined || before.transport !== 'stdio';
      if (next.transport === 'stdio' && next.command && launches) assertLauncherAllowed(next.command, this.env.STDIO_ALLOWED_COMMANDS);
      if (next.slug !== before.slug) await this.assertSlugFree(tx, org.id, next.slug, id);
      // Only references this patch sets are checked, so a server whose secret was deleted can
      // still be disabled or renamed.
      await this.assertSecretsExist(tx, org.id, { headers: dto.headers ? next.headers : {}, env: dto.env ? next.env : {} });

      const after = await this.writeOrConflict(next.slug, () => this.repo.update(tx, org.id, id, next));
      await log({ action: 'server.updated', targetType: 'server', targetId: id, before: configView(before), after: configView(after) });
      return after;
    });
    return this.view(org, updated);
  }

  async remove(user: AuthUser, org: OrgContext, id: string): Promise<void> {
    await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      const before = await this.repo.get(org.id, id, tx);
      if (!before) throw Problem.notFound('Server');
      await this.repo.delete(tx, org.id, id);
      await log({ action: 'server.deleted', targetType: 'server', targetId: id, before: configView(before) });
    });
  }

  /**
   * Have a gateway worker connect to the server for real and refresh its cached catalog (the
   * API never runs a server itself). The outcome (catalog or error) is stored either way; a
   * failure answers 502 `probe_failed`, no worker 503 `probe_unavailable` (nothing stored). The
   * stored config is probed, so disabled servers too. The catalog is not part of the snapshot,
   * so nothing is recompiled.
   */
  async probe(user: AuthUser, org: OrgContext, id: string) {
    const server = await this.mustGet(org.id, id);
    if (this.probing.has(id)) throw Problem.conflict('A probe of this server is already running; try again when it finishes');
    this.probing.add(id);
    let outcome: ProbeOutcome;
    try {
      outcome = await this.probeOnGateway(org.id, server);
    } finally {
      this.probing.delete(id);
    }

    const at = new Date();
    const stored = await this.changes.run(org.id, user.id, { affectsDataPlane: false }, async (tx, log) => {
      const probed = 'catalog' in outcome ? { at, catalog: outcome.catalog } : { at, error: outcome.error };
      const result = await this.repo.recordProbe(tx, org.id, id, server.updatedAt, probed);
      if (result === 'gone') throw Problem.notFound('Server');
      // A catalog of the previous URL or command must not be shown as the current one's.
      if (result === 'changed') throw Problem.conflict('The server was changed while it was being probed; probe it again');
      const c = 'catalog' in outcome ? outcome.catalog : null;
      await log({
        action: 'server.probed',
        targetType: 'server',
        targetId: id,
        after: c
          ? {
              ok: true,
              serverInfo: c.serverInfo,
              protocolVersion: c.protocolVersion,
              tools: c.tools.length,
              prompts: c.prompts.length,
              resources: c.resources.length,
              resourceTemplates: c.resourceTemplates.length,
            }
          : { ok: false, error: 'error' in outcome ? outcome.error : null },
      });
      return this.mustGet(org.id, id, tx);
    });

    if ('error' in outcome) {
      throw new Problem(502, ErrorCode.ProbeFailed, outcome.error, { serverId: id, probedAt: at.toISOString() });
    }
    return this.view(org, stored);
  }

  private async mustGet(orgId: string, id: string, tx?: Tx): Promise<ServerRecord> {
    const server = await this.repo.get(orgId, id, tx);
    if (!server) throw Problem.notFound('Server');
    return server;
  }

  /**
   * The server's config as a snapshot carries it, with the sealed values of the secrets it
   * references: the gateway worker opens them, the API does not. A reference to a secret the
   * org no longer has fails here, without a round trip.
   */
  private async probeOnGateway(orgId: string, s: ServerRecord): Promise<ProbeOutcome> {
    const refs = [
      ...secretRefs(s.headers).map((r) => ({ ...r, where: 'header' })),
      ...secretRefs(s.env).map((r) => ({ ...r, where: 'env' })),
    ];
    const sealed = await this.repo.sealedSecrets(orgId, [...new Set(refs.map((r) => r.secret))]);
    const missing = refs.find((r) => !sealed.has(r.secret));
    if (missing)
      return { error: `secret "${missing.secret}" referenced by ${missing.where}.${missing.name} does not exist in this organisation` };
    let server: ReturnType<typeof compileServer>;
    try {
      server = compileServer(s);
    } catch (e) {
      if (e instanceof PolicyCompileError) return { error: e.message };
      throw e;
    }
    return this.prober.probe(orgId, server, Object.fromEntries(sealed));
  }

  private async assertSlugFree(tx: Tx, orgId: string, slug: string, exceptId?: string): Promise<void> {
    if (await this.repo.slugTaken(tx, orgId, slug, exceptId)) throw slugConflict(slug);
  }

  /** The pre-check above cannot see a concurrent insert; the unique index can. */
  private async writeOrConflict<T>(slug: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      if (isPrismaError(e, PrismaErrorCode.UniqueViolation)) throw slugConflict(slug);
      throw e;
    }
  }

  /** Every `{secret}` reference must name a secret of the org: 400 naming the missing ones. */
  private async assertSecretsExist(tx: Tx, orgId: string, maps: { headers: ValueMap; env: ValueMap }): Promise<void> {
    const refs = [
      ...secretRefs(maps.headers).map((r) => ({ ...r, path: `headers.${r.name}.secret` })),
      ...secretRefs(maps.env).map((r) => ({ ...r, path: `env.${r.name}.secret` })),
    ];
    if (refs.length === 0) return;
    const existing = await this.repo.existingSecretNames(tx, orgId, [...new Set(refs.map((r) => r.secret))]);
    throwIfAny(
      refs
        .filter((r) => !existing.has(r.secret))
        .map((r) => ({ path: r.path, message: `secret "${r.secret}" does not exist in this organisation` })),
    );
  }
}

function secretRefs(map: ValueMap): { name: string; secret: string }[] {
  return Object.entries(map).flatMap(([name, v]) => ('secret' in v ? [{ name, secret: v.secret }] : []));
}

function slugConflict(slug: string): Problem {
  return Problem.conflict(`A server with slug "${slug}" already exists in this organisation`, [
    { path: 'slug', message: `"${slug}" is already used by another server` },
  ]);
}

function throwIfAny(errors: FieldError[]): void {
  if (errors.length > 0) throw Problem.validation(errors);
}

/**
 * Responses show credential-like literals as MASK; a client that sends such a map back
 * unchanged means "keep the stored value". MASK is never stored: where there is no stored
 * literal to keep, it is refused. Header names match case-insensitively, env names exactly.
 */
function keepMasked(
  incoming: ValueMap,
  stored: ValueMap,
  field: 'headers' | 'env',
  caseSensitive: boolean,
): { values: ValueMap; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const values: ValueMap = {};
  const find = (name: string) =>
    caseSensitive ? stored[name] : Object.entries(stored).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
  for (const [name, v] of Object.entries(incoming)) {
    if ('value' in v && v.value === MASK) {
      const prev = find(name);
      if (prev && 'value' in prev) {
        values[name] = prev;
        continue;
      }
      errors.push({
        path: `${field}.${name}.value`,
        message: `is the masked placeholder ${MASK}; send the real value or a {secret} reference`,
      });
      continue;
    }
    values[name] = v;
  }
  return { values, errors };
}
