import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { channels, type PolicySnapshot, redisKeys, type SnapshotNotice, type SnapshotTombstone } from '@toolgate/contracts';
import type { OrgTombstone, Prisma, Tx } from '@toolgate/db';
import { compile, PolicyCompileError } from '@toolgate/policy';
import { ENV, type Env } from '../../config/env';
import { ErrorCode, Problem } from '../../common/problem';
import { RedisService } from '../../infra/redis.service';
import { SnapshotEpoch } from './snapshot-epoch';
import { PUBLISH_SNAPSHOT_LUA, PUBLISH_TOMBSTONE_LUA, SnapshotWrite } from './snapshot-scripts';
import { SnapshotsRepository, type StoredSnapshot } from './snapshots.repository';

export interface CompiledSnapshot {
  orgId: string;
  orgSlug: string;
  version: number;
  snapshot: PolicySnapshot;
}

/** Unpublished snapshots (orgs) and tombstones taken per retry pass. */
const RETRY_BATCH = 500;

function compiled(row: StoredSnapshot): CompiledSnapshot {
  const snapshot = row.snapshot as unknown as PolicySnapshot;
  return { orgId: row.orgId, orgSlug: snapshot.orgSlug, version: row.version, snapshot };
}

/** EVAL arguments of PUBLISH_SNAPSHOT_LUA for one snapshot. */
function publishArgs(s: CompiledSnapshot, epoch: string): [string, number, ...string[]] {
  const notice: SnapshotNotice = { orgId: s.orgId, version: s.version };
  return [
    PUBLISH_SNAPSHOT_LUA,
    5,
    redisKeys.snapshot(s.orgId),
    redisKeys.snapshotTombstone(s.orgId),
    redisKeys.snapshotVersions,
    redisKeys.orgSlugs,
    redisKeys.snapshotEpoch,
    s.orgId,
    String(s.version),
    JSON.stringify(s.snapshot),
    channels.snapshots,
    JSON.stringify(notice),
    s.orgSlug,
    epoch,
  ];
}

/**
 * Compiles an org's policy snapshot inside the caller's transaction (so it sees exactly the
 * committed change) and publishes it to Redis after the commit. A publish that fails is left
 * with publishedAt = null and retried by a timer until Redis takes it; readyz reports the lag.
 * Deleted orgs get a tombstone instead (OrgTombstone row, then Redis), retried the same way.
 */
@Injectable()
export class SnapshotService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Snapshots');
  private timer?: NodeJS.Timeout;
  private retrying = false;
  /** Oldest unpublished snapshot we know of, for readiness. */
  private pendingSince: Date | null = null;

  constructor(
    private readonly redis: RedisService,
    private readonly repo: SnapshotsRepository,
    private readonly epoch: SnapshotEpoch,
    @Inject(ENV) private readonly env: Env,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.retryPending(), this.env.SNAPSHOT_RETRY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Bump the org's version and store the compiled snapshot. Call inside the change's transaction. */
  async compileInTx(tx: Tx, orgId: string, actorId: string | null): Promise<CompiledSnapshot> {
    // The UPDATE locks the org row: concurrent changes to one org compile one after another.
    const org = await tx.organization.update({
      where: { id: orgId },
      data: { snapshotVersion: { increment: 1 } },
    });
    const [keys, grants, servers, roles, secrets] = await Promise.all([
      tx.apiKey.findMany({ where: { orgId, revokedAt: null }, include: { roles: { select: { roleId: true } } } }),
      // Live OAuth grants: a revoked one drops out, and its tokens with it (modules/oauth).
      tx.oAuthGrant.findMany({
        where: { orgId, revokedAt: null },
        select: {
          id: true,
          resource: true,
          userId: true,
          client: { select: { clientId: true, name: true } },
          user: { select: { email: true } },
          roles: { select: { roleId: true } },
        },
      }),
      tx.mcpServer.findMany({ where: { orgId } }),
      tx.role.findMany({ where: { orgId } }),
      tx.secret.findMany({ where: { orgId }, select: { name: true, sealed: true } }),
    ]);
    let snapshot: PolicySnapshot;
    try {
      snapshot = compile({
        org: { id: org.id, slug: org.slug, plan: org.plan, monthlyCallQuota: org.monthlyCallQuota },
        version: org.snapshotVersion,
        compiledAt: new Date(),
        keys: keys.map((k) => ({
          id: k.id,
          name: k.name,
          prefix: k.prefix,
          hash: k.hash,
          roleIds: k.roles.map((r) => r.roleId),
          metadata: (k.metadata ?? {}) as Record<string, unknown>,
          expiresAt: k.expiresAt,
          revokedAt: k.revokedAt,
        })),
        grants: grants.map((g) => ({
          id: g.id,
          clientId: g.client.clientId,
          clientName: g.client.name,
          userId: g.userId,
          userEmail: g.user.email,
          roleIds: g.roles.map((r) => r.roleId),
          resource: g.resource,
        })),
        servers: servers.map((s) => ({
          id: s.id,
          slug: s.slug,
          name: s.name,
          transport: s.transport === 'streamable_http' ? 'streamable-http' : s.transport,
          command: s.command,
          args: s.args,
          url: s.url,
          headers: s.headers as never,
          env: s.env as never,
          enabled: s.enabled,
          tags: s.tags,
          timeoutMs: s.timeoutMs,
          network: s.network,
          isolation: s.isolation,
        })),
        roles: roles.map((r) => ({ id: r.id, name: r.name, rules: r.rules })),
        secrets: Object.fromEntries(secrets.map((s) => [s.name, s.sealed])),
      });
    } catch (e) {
      if (e instanceof PolicyCompileError) throw new Problem(422, ErrorCode.PolicyInvalid, e.message);
      throw e;
    }
    await tx.policySnapshot.create({
      data: { orgId, version: org.snapshotVersion, snapshot: snapshot as unknown as Prisma.InputJsonValue, createdById: actorId },
    });
    return { orgId, orgSlug: org.slug, version: org.snapshotVersion, snapshot };
  }

  /**
   * Record an org's deletion: lock the org row (so no change compiles past it), and remember the
   * tombstone one version above its last snapshot. Call inside the transaction that deletes it.
   */
  async tombstoneInTx(tx: Tx, orgId: string): Promise<OrgTombstone> {
    const org = await tx.organization.update({ where: { id: orgId }, data: { snapshotVersion: { increment: 1 } } });
    return tx.orgTombstone.create({ data: { orgId, slug: org.slug, version: org.snapshotVersion } });
  }

  /**
   * Push a committed snapshot to Redis and announce it, fenced on the epoch. Never throws: on
   * failure the row stays unpublished and the retry timer takes over. Returns what Redis did,
   * or null if Redis could not be reached.
   */
  async publish(s: CompiledSnapshot): Promise<SnapshotWrite | null> {
    const outcome = await this.writeSnapshot(s).catch((e: Error) => {
      this.logger.warn(`publishing snapshot ${s.orgId}@${s.version} failed, will retry: ${e.message}`);
      return null;
    });
    if (outcome === SnapshotWrite.Written || outcome === SnapshotWrite.Current || outcome === SnapshotWrite.Deleted) {
      await this.repo.markSnapshotsPublished(s.orgId, s.version).catch(() => undefined);
      return outcome;
    }
    this.pendingSince ??= new Date();
    // Redis was reset (or this process has not seen it yet): let the epoch check find out now.
    if (outcome === SnapshotWrite.Fenced) void this.epoch.check().catch(() => undefined);
    return outcome;
  }

  private async writeSnapshot(s: CompiledSnapshot): Promise<SnapshotWrite> {
    const epoch = await this.knownEpoch();
    if (epoch === null) return SnapshotWrite.Fenced;
    const outcome = (await this.redis.client.eval(...publishArgs(s, epoch))) as SnapshotWrite;
    if (outcome === SnapshotWrite.Deleted) this.logger.warn(`org ${s.orgId} is tombstoned in Redis: its snapshot was not written`);
    return outcome;
  }

  /** The epoch writes are fenced on; not looked at yet (boot, Redis away since): look now rather than fail. */
  private async knownEpoch(): Promise<string | null> {
    if (this.epoch.current === null) await this.epoch.check();
    return this.epoch.current;
  }

  /**
   * Write many stored snapshots back in one round trip (the reconciler's repairs), each with
   * the same guards as publish(). Throws if Redis is unreachable or refuses a write.
   */
  async republish(rows: StoredSnapshot[]): Promise<SnapshotWrite[]> {
    const epoch = await this.knownEpoch();
    if (epoch === null) return rows.map(() => SnapshotWrite.Fenced);
    const pipe = this.redis.client.pipeline();
    for (const row of rows) pipe.eval(...publishArgs(compiled(row), epoch));
    const outcomes = ((await pipe.exec()) ?? []).map(([err, outcome]) => {
      if (err) throw err;
      return outcome as SnapshotWrite;
    });
    const published = rows.filter((row, i) => row.publishedAt === null && outcomes[i] !== SnapshotWrite.Fenced);
    if (published.length > 0) await this.repo.markPublished(published.map((row) => row.id));
    return outcomes;
  }

  /**
   * Write a deleted org's tombstone to Redis: gateways drop the org on its notice. Not fenced:
   * a tombstone is right in any Redis. Never throws; false leaves the row for the retry timer.
   */
  async publishTombstone(t: OrgTombstone): Promise<boolean> {
    const tombstone: SnapshotTombstone = {
      orgId: t.orgId,
      orgSlug: t.slug,
      version: t.version,
      deleted: true,
      deletedAt: t.deletedAt.toISOString(),
    };
    try {
      await this.redis.client.eval(
        PUBLISH_TOMBSTONE_LUA,
        4,
        redisKeys.snapshotTombstone(t.orgId),
        redisKeys.snapshot(t.orgId),
        redisKeys.snapshotVersions,
        redisKeys.orgSlugs,
        t.orgId,
        String(t.version),
        JSON.stringify(tombstone),
        channels.snapshots,
        t.slug,
      );
      if (!t.publishedAt) await this.repo.markTombstonePublished(t.orgId);
      return true;
    } catch (e) {
      this.pendingSince ??= new Date();
      this.logger.warn(`publishing tombstone of ${t.orgId} failed, will retry: ${(e as Error).message}`);
      return false;
    }
  }

  /** Publish the newest unpublished snapshot of each org, and unpublished tombstones. */
  async retryPending(): Promise<void> {
    if (this.retrying) return;
    this.retrying = true;
    try {
      let failed = false;
      for (const t of await this.repo.unpublishedTombstones(RETRY_BATCH)) failed = !(await this.publishTombstone(t)) || failed;
      for (const row of await this.repo.unpublishedSnapshots(RETRY_BATCH)) {
        const outcome = await this.publish(compiled(row));
        failed = outcome === null || outcome === SnapshotWrite.Fenced || failed;
      }
      if (!failed) this.pendingSince = null;
    } catch (e) {
      this.logger.warn(`snapshot retry pass failed: ${(e as Error).message}`);
    } finally {
      this.retrying = false;
    }
  }

  /** Seconds the oldest failed publish has been waiting, or 0. */
  publishLagSeconds(): number {
    return this.pendingSince ? (Date.now() - this.pendingSince.getTime()) / 1000 : 0;
  }

  latest(orgId: string) {
    return this.repo.latest(orgId);
  }
}
