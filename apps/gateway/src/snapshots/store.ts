import { channels, PolicySnapshot, redisKeys, SnapshotNotice } from '@toolgate/contracts';
import type Redis from 'ioredis';
import type { SnapshotSource } from '../core/ports';
import type { RedisAvailability } from '../redis/health';

/** Redis is away and this worker has never loaded the org: it can be neither served nor refused. */
export class SnapshotUnavailable extends Error {
  constructor() {
    super('Snapshot store unavailable');
  }
}

export interface OrgEntry {
  snapshot: PolicySnapshot;
  loadedAt: number;
}

const UNKNOWN_SLUG_TTL_MS = 1000;
const UNKNOWN_SLUGS_MAX = 10_000;

type Listener = (orgId: string, next: PolicySnapshot | null, prev: PolicySnapshot | null) => void;

/**
 * Every org snapshot this worker has needed, kept in memory. Loaded lazily on first use,
 * replaced when a newer version is announced on `tg:snapshots`, re-checked against
 * `tg:snapshot-versions` after every Redis reconnect (notices sent while we were away are
 * lost), and kept as the last good copy while Redis is unreachable or has lost it (restarted
 * empty, key evicted). Only a tombstone (`tg:snapshot-tombstone:{orgId}`) drops an org, for good.
 */
export class SnapshotStore implements SnapshotSource {
  private readonly byOrg = new Map<string, OrgEntry>();
  private readonly slugToOrg = new Map<string, string>();
  /** The latest fetch of each org under way: a burst of first requests joins it (one round trip), a reload queues after it. */
  private readonly loading = new Map<string, Promise<PolicySnapshot | null>>();
  private readonly listeners = new Set<Listener>();
  /** Orgs seen tombstoned: never served again, whatever a confused Redis holds later. */
  private readonly deleted = new Set<string>();
  private subscribed = false;
  /**
   * Slugs Redis did not know, until when: a repeated lookup of an unknown org costs no round trip,
   * as a known one costs none, so timing does not tell them apart. Cleared by any notice (a new org).
   */
  private readonly unknownSlugs = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    /** A dedicated connection in subscriber mode. */
    private readonly sub: Redis,
    /** Whether to ask Redis for an org never loaded here (the shared connection queues while Redis is away). */
    private readonly health: RedisAvailability = { usable: () => true, failed: () => undefined },
    /**
     * The longest a request waits for an org never loaded here (a frozen Redis); the load goes on
     * for the next one. Longer than the hot path's command timeout: a first load reads and parses
     * a whole snapshot, and giving up early would refuse orgs on a merely busy machine.
     */
    private readonly lookupTimeoutMs = 1000,
  ) {}

  async start(): Promise<void> {
    this.sub.on('message', (channel: string, message: string) => {
      if (channel !== channels.snapshots) return;
      this.unknownSlugs.clear();
      try {
        const notice = SnapshotNotice.parse(JSON.parse(message));
        const have = this.byOrg.get(notice.orgId);
        if (have && (notice.deleted || have.snapshot.version < notice.version)) void this.reload(notice.orgId);
      } catch {
        // A malformed notice is ignored; the version re-check on reconnect catches real changes.
      }
    });
    // After a reconnect, notices published while we were away are gone: compare versions.
    this.sub.on('ready', () => {
      if (this.subscribed) void this.recheckAll();
    });
    await this.sub.subscribe(channels.snapshots);
    this.subscribed = true;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Number of orgs loaded (readiness and metrics). */
  get size(): number {
    return this.byOrg.size;
  }

  orgIds(): IterableIterator<string> {
    return this.byOrg.keys();
  }

  get(orgId: string): PolicySnapshot | null {
    return this.byOrg.get(orgId)?.snapshot ?? null;
  }

  /**
   * Resolve `/mcp/{slug}`: memory first, then Redis. The snapshot's own slug is authoritative.
   * Throws SnapshotUnavailable for a slug not in memory while Redis is away.
   */
  async bySlug(slug: string): Promise<PolicySnapshot | null> {
    const known = this.slugToOrg.get(slug);
    if (known) {
      const snap = this.byOrg.get(known)?.snapshot;
      if (snap && snap.orgSlug === slug) return snap;
    }
    if ((this.unknownSlugs.get(slug) ?? 0) > Date.now()) return null;
    if (!this.health.usable()) throw new SnapshotUnavailable();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SnapshotUnavailable()), this.lookupTimeoutMs);
    });
    try {
      return await Promise.race([this.lookUp(slug), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async lookUp(slug: string): Promise<PolicySnapshot | null> {
    let orgId: string | null;
    try {
      orgId = await this.redis.hget(redisKeys.orgSlugs, slug);
    } catch {
      throw new SnapshotUnavailable();
    }
    const snap = orgId ? (this.byOrg.get(orgId)?.snapshot ?? (await this.load(orgId))) : null;
    if (snap && snap.orgSlug === slug) return snap;
    this.rememberUnknown(slug);
    return null;
  }

  private rememberUnknown(slug: string): void {
    if (this.unknownSlugs.size >= UNKNOWN_SLUGS_MAX) this.unknownSlugs.clear();
    this.unknownSlugs.set(slug, Date.now() + UNKNOWN_SLUG_TTL_MS);
  }

  private load(orgId: string): Promise<PolicySnapshot | null> {
    return this.loading.get(orgId) ?? this.queueFetch(orgId, null);
  }

  /** Fetches of one org run one after another, so a later read of Redis is always applied last. */
  private queueFetch(orgId: string, after: Promise<unknown> | null): Promise<PolicySnapshot | null> {
    const p: Promise<PolicySnapshot | null> = (after ? after.then(() => this.fetch(orgId)) : this.fetch(orgId)).finally(() => {
      if (this.loading.get(orgId) === p) this.loading.delete(orgId);
    });
    this.loading.set(orgId, p);
    return p;
  }

  private async fetch(orgId: string): Promise<PolicySnapshot | null> {
    if (this.deleted.has(orgId)) return null;
    const pair = await this.redis.mget(redisKeys.snapshot(orgId), redisKeys.snapshotTombstone(orgId)).catch(() => undefined);
    const prev = this.byOrg.get(orgId)?.snapshot ?? null;
    if (pair === undefined) return prev; // Redis error: keep the last good.
    const [raw, tombstone] = pair;
    // Any tombstone, even one this version cannot parse, means deleted: failing closed is right here.
    if (tombstone !== null) {
      this.drop(orgId, prev);
      return null;
    }
    if (raw === null) return prev; // Unknown to Redis right now (restarted empty?), not deleted.
    let snap: PolicySnapshot;
    try {
      snap = PolicySnapshot.parse(JSON.parse(raw));
    } catch {
      return prev; // A snapshot we cannot read (newer schema?) never replaces a good one.
    }
    if (prev && prev.version >= snap.version) return prev;
    this.byOrg.set(orgId, { snapshot: snap, loadedAt: Date.now() });
    if (prev && prev.orgSlug !== snap.orgSlug) this.slugToOrg.delete(prev.orgSlug);
    this.slugToOrg.set(snap.orgSlug, orgId);
    this.emit(orgId, snap, prev);
    return snap;
  }

  private drop(orgId: string, prev: PolicySnapshot | null): void {
    this.deleted.add(orgId);
    if (!prev) return;
    this.byOrg.delete(orgId);
    if (this.slugToOrg.get(prev.orgSlug) === orgId) this.slugToOrg.delete(prev.orgSlug);
    this.emit(orgId, null, prev);
  }

  /**
   * Read the org again. A fetch already under way may have read Redis before the change we were
   * just told about (a tombstone right after an update): this one runs after it, never joins it.
   */
  reload(orgId: string): Promise<PolicySnapshot | null> {
    return this.queueFetch(orgId, this.loading.get(orgId) ?? null);
  }

  /**
   * Compare every loaded org's version with Redis and reload the newer ones (a tombstone raises
   * the version too). An org Redis has no version of is kept: Redis may have restarted empty,
   * and the control plane republishes it.
   */
  async recheckAll(): Promise<void> {
    if (this.byOrg.size === 0) return;
    const versions = await this.redis.hgetall(redisKeys.snapshotVersions).catch(() => null);
    if (!versions) return;
    await Promise.all(
      [...this.byOrg].map(([orgId, entry]) => {
        const v = versions[orgId];
        return v !== undefined && Number(v) > entry.snapshot.version ? this.reload(orgId) : undefined;
      }),
    );
  }

  private emit(orgId: string, next: PolicySnapshot | null, prev: PolicySnapshot | null): void {
    for (const l of this.listeners) l(orgId, next, prev);
  }
}
