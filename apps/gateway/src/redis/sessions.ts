import { randomBytes } from 'node:crypto';
import { redisKeys } from '@toolgate/contracts';
import type Redis from 'ioredis';
import type { SessionStorePort } from '../core/ports';
import type { SessionState } from '../core/sessions';
import type { RedisAvailability } from './health';

/** How long a worker trusts its cached copy before re-reading Redis (while Redis answers). */
const LOCAL_TTL_MS = 2000;
/** Refresh the Redis TTL at most this often per session and worker. */
const TOUCH_EVERY_MS = 30_000;
/** Past this many cached sessions, those not read from Redis lately are dropped. */
const MAX_CACHED = 50_000;

/** Redis is away and this worker does not know the session: it can be neither confirmed nor denied. */
export class SessionStoreUnavailable extends Error {
  constructor() {
    super('Session store unavailable');
  }
}

interface Entry {
  state: SessionState;
  /** When Redis last confirmed this copy (read or write). */
  at: number;
  touched: number;
  /** Served while Redis was away: written back (if Redis lost it) when it returns. */
  usedWhileAway: boolean;
  /** Changed (or created) while Redis was away: Redis's copy is older than ours. */
  dirty: boolean;
}

export interface SessionStoreOptions {
  ttlSeconds: number;
  /**
   * Tells the other workers that a session was updated or deleted, so they drop their cached
   * copy (see Relay.sessionChanged); awaited (at most `announceTimeoutMs`) before the change is reported done.
   */
  announce?: (id: string) => Promise<void>;
  announceTimeoutMs?: number;
  /** Sessions created or changed while Redis is away that wait for write-back, at most; beyond, create() refuses. */
  maxDirty?: number;
  /** How long a cached copy is trusted while Redis answers. Default 2 s. */
  localTtlMs?: number;
}

/**
 * Sessions live in Redis (`tg:session:{id}`, expiring after ttlSeconds of inactivity) with a
 * local cache, so the hot path usually costs no Redis round trip. The connection has no offline
 * queue and a command timeout, and `health` says whether to wait on Redis at all: while Redis is
 * down or frozen a session this worker knows is served from its copy, changes and new sessions
 * are kept here (dirty) and written back, with the sessions used meanwhile, when Redis returns.
 */
export class SessionStore implements SessionStorePort {
  private readonly cache = new Map<string, Entry>();
  /** Deleted while Redis was away: deleted there on its return. */
  private readonly pendingDeletes = new Set<string>();
  private dirtyCount = 0;
  private readonly announce: (id: string) => Promise<void>;
  private readonly localTtlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly health: RedisAvailability,
    private readonly opts: SessionStoreOptions,
  ) {
    this.announce = opts.announce ?? (async () => undefined);
    this.localTtlMs = opts.localTtlMs ?? LOCAL_TTL_MS;
  }

  static newId(): string {
    return randomBytes(18).toString('base64url');
  }

  /** Sessions waiting to be written to Redis (created, changed or deleted while it was away). */
  get pending(): number {
    return this.dirtyCount + this.pendingDeletes.size;
  }

  /** Stored in Redis or, while Redis is away, kept here for write-back; throws SessionStoreUnavailable when too many wait. */
  async create(state: SessionState): Promise<void> {
    if (!this.health.usable() && this.dirtyCount >= (this.opts.maxDirty ?? 10_000)) throw new SessionStoreUnavailable();
    this.put(state, false);
    await this.write(state.id, false);
  }

  async get(id: string): Promise<SessionState | null> {
    const now = Date.now();
    const hit = this.cache.get(id);
    // A copy Redis has not got back yet (dirty, or to restore) must not be replaced by Redis's answer.
    if (hit && (hit.dirty || hit.usedWhileAway || now - hit.at < this.localTtlMs)) {
      if (now - hit.touched > TOUCH_EVERY_MS) this.touch(id, hit, now);
      return hit.state;
    }
    if (this.pendingDeletes.has(id)) return null;
    if (!this.health.usable()) return this.unconfirmed(hit);
    let raw: string | null;
    try {
      raw = await this.redis.get(redisKeys.session(id));
    } catch (e) {
      this.health.failed(e as Error);
      return this.unconfirmed(hit);
    }
    // Changed here while Redis answered (an update, maybe kept dirty): ours is the newer copy.
    const current = this.cache.get(id);
    if (current && current !== hit) return current.state;
    if (!raw) {
      this.drop(id);
      return null;
    }
    const state = JSON.parse(raw) as SessionState;
    const entry: Entry = { state, at: now, touched: hit?.touched ?? 0, usedWhileAway: false, dirty: false };
    this.cache.set(id, entry);
    if (now - entry.touched > TOUCH_EVERY_MS) this.touch(id, entry, now);
    if (this.cache.size > MAX_CACHED) this.evictOldest();
    return state;
  }

  /** Written through, or kept here and written back when Redis returns (last writer wins). */
  async update(state: SessionState): Promise<void> {
    this.put(state, this.cache.get(state.id)?.dirty ?? false);
    await this.write(state.id, true);
  }

  async delete(id: string): Promise<void> {
    this.drop(id);
    this.pendingDeletes.add(id);
    await this.remove(id);
  }

  /** Drop a session from this worker's cache (another worker changed or deleted it); a dirty copy stays, it is newer. */
  forget(id: string): void {
    if (!this.cache.get(id)?.dirty) this.cache.delete(id);
  }

  /**
   * Redis is back: write what changed here and restore the sessions used meanwhile that Redis no
   * longer has (it may have restarted empty). Stops at the first failure; the next return resumes.
   */
  async writeBack(): Promise<void> {
    try {
      for (const id of [...this.pendingDeletes]) await this.remove(id);
      for (const [id, e] of [...this.cache]) {
        if (!this.health.usable()) return;
        if (e.dirty) await this.write(id, true);
        else if (e.usedWhileAway) await this.restore(id, e);
      }
    } catch {
      // Redis failed again (health knows): what is left waits for its next return.
    }
  }

  /** A copy Redis could not confirm: ours if we have one (marked for write-back), else unknown. */
  private unconfirmed(hit: Entry | undefined): SessionState {
    if (!hit) throw new SessionStoreUnavailable();
    hit.usedWhileAway = true;
    return hit.state;
  }

  /**
   * Cache a copy changed here. It is the newest there is, so it counts as fresh at once: a read of
   * Redis racing its write would otherwise replace it with the copy before the change, and the
   * session's next request would build on that (concurrent subscribes lost each other's).
   */
  private put(state: SessionState, dirty: boolean): void {
    const prev = this.cache.get(state.id);
    if (prev?.dirty) this.dirtyCount--;
    const now = Date.now();
    this.cache.set(state.id, { state, at: now, touched: now, usedWhileAway: false, dirty });
    if (dirty) this.dirtyCount++;
  }

  private drop(id: string): void {
    if (this.cache.get(id)?.dirty) this.dirtyCount--;
    this.cache.delete(id);
  }

  private markDirty(id: string): void {
    const e = this.cache.get(id);
    if (e && !e.dirty) {
      e.dirty = true;
      this.dirtyCount++;
    }
  }

  /** SET the cached copy; on failure it stays dirty for writeBack. Announced when `announce`. */
  private async write(id: string, announce: boolean): Promise<void> {
    const e = this.cache.get(id);
    if (!e) return;
    if (!this.health.usable()) return this.markDirty(id);
    try {
      await this.redis.set(redisKeys.session(id), JSON.stringify(e.state), 'EX', this.opts.ttlSeconds);
    } catch (err) {
      this.health.failed(err as Error);
      return this.markDirty(id);
    }
    this.markLive(id);
    if (this.cache.get(id) === e) {
      if (e.dirty) this.dirtyCount--;
      e.dirty = false;
      e.usedWhileAway = false;
      e.at = e.touched = Date.now();
    }
    if (announce) await this.announceBounded(id);
  }

  private async remove(id: string): Promise<void> {
    if (!this.health.usable()) return;
    try {
      await this.redis.del(redisKeys.session(id));
      this.redis.zrem(redisKeys.liveSessions, id).catch(() => undefined);
    } catch (err) {
      this.health.failed(err as Error);
      return;
    }
    this.pendingDeletes.delete(id);
    await this.announceBounded(id);
  }

  /** Put back a session Redis lost while it was away (NX: a copy Redis kept, maybe changed elsewhere, wins). */
  private async restore(id: string, e: Entry): Promise<void> {
    await this.redis.set(redisKeys.session(id), JSON.stringify(e.state), 'EX', this.opts.ttlSeconds, 'NX');
    e.usedWhileAway = false;
    e.at = 0; // re-read on next use: Redis's copy may differ from ours
  }

  private touch(id: string, e: Entry, now: number): void {
    if (!this.health.usable()) return;
    e.touched = now;
    this.redis.expire(redisKeys.session(id), this.opts.ttlSeconds).catch((err: Error) => this.health.failed(err));
    this.markLive(id);
  }

  /** Sessions active within their TTL across every worker (null while Redis is away); prunes the expired. */
  async openSessions(): Promise<number | null> {
    if (!this.health.usable()) return null;
    const since = Date.now() - this.opts.ttlSeconds * 1000;
    try {
      await this.redis.zremrangebyscore(redisKeys.liveSessions, '-inf', `(${since}`);
      return await this.redis.zcard(redisKeys.liveSessions);
    } catch (err) {
      this.health.failed(err as Error);
      return null;
    }
  }

  /** Not awaited: the count is for operators, a lost mark only undercounts until the next touch. */
  private markLive(id: string): void {
    this.redis.zadd(redisKeys.liveSessions, Date.now(), id).catch(() => undefined);
  }

  /** The relay notice goes over a connection that may queue: never let it hold the caller past the timeout. */
  private async announceBounded(id: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => {
      timer = setTimeout(r, this.opts.announceTimeoutMs ?? 250);
    });
    await Promise.race([this.announce(id).catch(() => undefined), timeout]);
    clearTimeout(timer);
  }

  /** Only while Redis answers (an evicted copy could not be read back otherwise); dirty copies stay. */
  private evictOldest(): void {
    if (!this.health.usable()) return;
    const cutoff = Date.now() - this.localTtlMs;
    for (const [id, e] of this.cache) if (e.at < cutoff && !e.dirty && !e.usedWhileAway) this.cache.delete(id);
  }
}
