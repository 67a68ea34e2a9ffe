import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { channels, type PolicySnapshot, redisKeys, type SnapshotNotice } from '@toolgate/contracts';
import type { Prisma, Tx } from '@toolgate/db';
import { compile, PolicyCompileError } from '@toolgate/policy';
import { ENV, type Env } from '../../config/env';
import { ErrorCode, Problem } from '../../common/problem';
import { PrismaService } from '../../infra/prisma.service';
import { RedisService } from '../../infra/redis.service';

/**
 * Writes the snapshot and publishes the notice in one atomic step, and only if Redis does not
 * already hold a newer version (publishers may race after retries). An empty json deletes.
 * KEYS: snapshot key, versions hash, slug map. ARGV: orgId, version, json, channel, notice, slug.
 */
const PUBLISH_LUA = `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur and tonumber(cur) >= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
  if redis.call('HGET', KEYS[3], ARGV[6]) == ARGV[1] then redis.call('HDEL', KEYS[3], ARGV[6]) end
else
  redis.call('SET', KEYS[1], ARGV[3])
  redis.call('HSET', KEYS[3], ARGV[6], ARGV[1])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`;

export interface CompiledSnapshot {
  orgId: string;
  orgSlug: string;
  version: number;
  snapshot: PolicySnapshot | null;
}

/**
 * Compiles an org's policy snapshot inside the caller's transaction (so it sees exactly the
 * committed change) and publishes it to Redis after the commit. A publish that fails is left
 * with publishedAt = null and retried by a timer until Redis takes it; readyz reports the lag.
 */
@Injectable()
export class SnapshotService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Snapshots');
  private timer?: NodeJS.Timeout;
  private retrying = false;
  /** Oldest unpublished snapshot we know of, for readiness. */
  private pendingSince: Date | null = null;

  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
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
    const [keys, servers, roles, secrets] = await Promise.all([
      tx.apiKey.findMany({ where: { orgId, revokedAt: null }, include: { roles: { select: { roleId: true } } } }),
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
   * Push a committed snapshot to Redis and announce it. Never throws: on failure the row stays
   * unpublished and the retry timer takes over.
   */
  async publish(s: CompiledSnapshot): Promise<boolean> {
    try {
      const notice: SnapshotNotice = { orgId: s.orgId, version: s.version };
      await this.redis.client.eval(
        PUBLISH_LUA,
        3,
        redisKeys.snapshot(s.orgId),
        redisKeys.snapshotVersions,
        redisKeys.orgSlugs,
        s.orgId,
        String(s.version),
        s.snapshot ? JSON.stringify(s.snapshot) : '',
        channels.snapshots,
        JSON.stringify(notice),
        s.orgSlug,
      );
      if (s.snapshot) {
        await this.prisma.db.policySnapshot.updateMany({
          where: { orgId: s.orgId, version: { lte: s.version }, publishedAt: null },
          data: { publishedAt: new Date() },
        });
      }
      return true;
    } catch (e) {
      this.pendingSince ??= new Date();
      this.logger.warn(`publishing snapshot ${s.orgId}@${s.version} failed, will retry: ${(e as Error).message}`);
      return false;
    }
  }

  /** Remove a deleted org from Redis: gateways drop it on the notice. */
  async unpublish(orgId: string, orgSlug: string, lastVersion: number): Promise<void> {
    await this.publish({ orgId, orgSlug, version: lastVersion + 1, snapshot: null });
  }

  /** Publish the newest unpublished snapshot of each org. */
  async retryPending(): Promise<void> {
    if (this.retrying) return;
    this.retrying = true;
    try {
      const rows = await this.prisma.db.policySnapshot.findMany({
        where: { publishedAt: null },
        distinct: ['orgId'],
        orderBy: [{ orgId: 'asc' }, { version: 'desc' }],
        take: 500,
      });
      let failed = false;
      for (const row of rows) {
        const snapshot = row.snapshot as unknown as PolicySnapshot;
        const ok = await this.publish({ orgId: row.orgId, orgSlug: snapshot.orgSlug, version: row.version, snapshot });
        failed ||= !ok;
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

  async latest(orgId: string) {
    return this.prisma.db.policySnapshot.findFirst({ where: { orgId }, orderBy: { version: 'desc' } });
  }
}
