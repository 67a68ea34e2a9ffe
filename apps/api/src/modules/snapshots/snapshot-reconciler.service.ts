import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { redisKeys } from '@toolgate/contracts';
import { ENV, type Env } from '../../config/env';
import { type ApiMetrics, METRICS } from '../health/metrics';
import { RedisService } from '../../infra/redis.service';
import { SnapshotEpoch } from './snapshot-epoch';
import { SnapshotWrite } from './snapshot-scripts';
import { SnapshotService } from './snapshot.service';
import { SnapshotsRepository } from './snapshots.repository';

/** A write refused by the epoch fence: Redis was reset under a sweep, which must start over. */
class EpochLost extends Error {}

interface OrgRow {
  id: string;
  slug: string;
  snapshotVersion: number;
}

/**
 * Keeps Redis holding what the database says, so gateways never lose an org because Redis did:
 * - the epoch is checked every SNAPSHOT_EPOCH_CHECK_MS and on every reconnect; when Redis lost
 *   its data, a sweep republishes every known tombstone and every org's current snapshot at once;
 * - a reconcile step every SNAPSHOT_RECONCILE_MS compares one batch of orgs and one of
 *   tombstones with Redis and repairs the difference (a Redis restored from an old dump keeps
 *   its epoch but not the newest versions; a key may be evicted).
 * Several API instances do the same work side by side: every write is versioned and idempotent.
 */
@Injectable()
export class SnapshotReconciler implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('SnapshotReconcile');
  private epochTimer?: NodeJS.Timeout;
  private reconcileTimer?: NodeJS.Timeout;
  private readonly stopReset: () => void;
  private readonly onRedisReady = () => void this.checkEpoch();
  /** One pass (sweep or step) at a time; a reset seen during one asks for a sweep after it. */
  private running: Promise<void> | null = null;
  private sweepWanted = false;
  private stopped = false;
  private orgCursor: string | null = null;
  private tombstoneCursor: string | null = null;

  constructor(
    private readonly redis: RedisService,
    private readonly repo: SnapshotsRepository,
    private readonly snapshots: SnapshotService,
    private readonly epoch: SnapshotEpoch,
    @Inject(ENV) private readonly env: Env,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
  ) {
    this.stopReset = this.epoch.onReset(() => this.requestSweep());
  }

  onModuleInit(): void {
    this.redis.client.on('ready', this.onRedisReady);
    this.epochTimer = setInterval(() => void this.checkEpoch(), this.env.SNAPSHOT_EPOCH_CHECK_MS);
    this.epochTimer.unref();
    this.reconcileTimer = setInterval(() => void this.step(), this.env.SNAPSHOT_RECONCILE_MS);
    this.reconcileTimer.unref();
    void this.checkEpoch();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.epochTimer);
    clearInterval(this.reconcileTimer);
    this.redis.client.off('ready', this.onRedisReady);
    this.stopReset();
    await this.running;
  }

  async checkEpoch(): Promise<void> {
    await this.epoch.check().catch(() => undefined); // Redis away: the next tick or reconnect looks again.
  }

  private requestSweep(): void {
    this.sweepWanted = true;
    this.kick();
  }

  /** Run the wanted sweep now, or once the pass in progress is over. */
  private kick(): void {
    if (this.running || !this.sweepWanted || this.stopped) return;
    this.sweepWanted = false;
    this.running = this.sweep().finally(() => {
      this.running = null;
      this.kick();
    });
  }

  /**
   * Republish everything, batch after batch: first every known tombstone, then the epoch (no
   * snapshot can land before it), then every org's current snapshot.
   */
  private async sweep(): Promise<void> {
    const started = Date.now();
    try {
      let deleted: string | null = null;
      do {
        const batch = await this.repo.tombstonesAfter(deleted, this.env.SNAPSHOT_RECONCILE_BATCH);
        await this.repairTombstones(batch);
        deleted = batch.length === this.env.SNAPSHOT_RECONCILE_BATCH ? batch[batch.length - 1].orgId : null;
      } while (deleted);
      await this.epoch.establish();
      let orgs = 0;
      let live: string | null = null;
      do {
        const batch = await this.repo.orgsAfter(live, this.env.SNAPSHOT_RECONCILE_BATCH);
        await this.repairOrgs(batch);
        orgs += batch.length;
        live = batch.length === this.env.SNAPSHOT_RECONCILE_BATCH ? batch[batch.length - 1].id : null;
      } while (live);
      this.metrics.snapshotRepublishes.inc({ outcome: 'done' });
      this.logger.log(`Redis lost its data: ${orgs} orgs and the tombstones republished in ${Date.now() - started} ms`);
    } catch (e) {
      // Fenced: Redis was reset again under the sweep, and the look below asks for a new one.
      this.metrics.snapshotRepublishes.inc({ outcome: 'failed' });
      if (!(e instanceof EpochLost)) {
        this.logger.warn(`snapshot republish failed, retrying: ${(e as Error).message}`);
        this.sweepWanted = true;
        await new Promise((r) => setTimeout(r, this.env.SNAPSHOT_EPOCH_CHECK_MS).unref());
      }
      await this.checkEpoch();
    }
  }

  /** One bounded reconcile step: the next batch of orgs and of tombstones, wrapping around. */
  async step(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = (async () => {
      const orgs = await this.repo.orgsAfter(this.orgCursor, this.env.SNAPSHOT_RECONCILE_BATCH);
      await this.repairOrgs(orgs);
      this.orgCursor = orgs.length === this.env.SNAPSHOT_RECONCILE_BATCH ? orgs[orgs.length - 1].id : null;
      const tombstones = await this.repo.tombstonesAfter(this.tombstoneCursor, this.env.SNAPSHOT_RECONCILE_BATCH);
      await this.repairTombstones(tombstones);
      this.tombstoneCursor = tombstones.length === this.env.SNAPSHOT_RECONCILE_BATCH ? tombstones[tombstones.length - 1].orgId : null;
    })()
      .catch(async (e) => {
        if (e instanceof EpochLost) await this.checkEpoch();
        else this.logger.warn(`snapshot reconcile step failed: ${(e as Error).message}`);
      })
      .finally(() => {
        this.running = null;
        this.kick();
      });
    await this.running;
  }

  /** Republish the orgs whose snapshot Redis lacks, holds older, or cannot route to by slug. */
  private async repairOrgs(orgs: OrgRow[]): Promise<void> {
    const stale = await this.staleOrgs(orgs);
    if (stale.length === 0) return;
    const outcomes = await this.snapshots.republish(await this.repo.currentSnapshots(stale.map((o) => o.id)));
    this.metrics.snapshotRepairs.inc({ kind: 'snapshot' }, outcomes.filter((o) => o === SnapshotWrite.Written).length);
    if (outcomes.includes(SnapshotWrite.Fenced)) throw new EpochLost();
  }

  private async staleOrgs(orgs: OrgRow[]): Promise<OrgRow[]> {
    if (orgs.length === 0) return [];
    const pipe = this.redis.client.pipeline();
    for (const o of orgs) {
      pipe.hget(redisKeys.snapshotVersions, o.id);
      pipe.exists(redisKeys.snapshot(o.id));
      pipe.hget(redisKeys.orgSlugs, o.slug);
    }
    const replies = (await pipe.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    return orgs.filter((o, i) => {
      const [version, exists, slugOwner] = replies.slice(i * 3, i * 3 + 3).map(([, v]) => v);
      return version === null || Number(version) < o.snapshotVersion || exists === 0 || slugOwner !== o.id;
    });
  }

  /** Write again the tombstones Redis lost. */
  private async repairTombstones(tombstones: Awaited<ReturnType<SnapshotsRepository['tombstonesAfter']>>): Promise<void> {
    if (tombstones.length === 0) return;
    const present = await this.redis.client.exists(...tombstones.map((t) => redisKeys.snapshotTombstone(t.orgId)));
    if (present === tombstones.length) return;
    for (const t of tombstones) {
      if (!(await this.snapshots.publishTombstone(t))) throw new Error('Redis refused a tombstone');
    }
    this.metrics.snapshotRepairs.inc({ kind: 'tombstone' }, tombstones.length - present);
  }
}
