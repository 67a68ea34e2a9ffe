import { randomBytes } from 'node:crypto';
import { redisKeys } from '@toolgate/contracts';
import type Redis from 'ioredis';
import type { SessionState } from '../core/sessions';

/** How long a worker trusts its cached copy before re-reading Redis. */
const LOCAL_TTL_MS = 2000;
/** Refresh the Redis TTL at most this often per session and worker. */
const TOUCH_EVERY_MS = 30_000;

/**
 * Sessions live in Redis (`tg:session:{id}`, expiring after ttlSeconds of inactivity) with a
 * short-lived local cache, so the hot path usually costs no Redis round trip.
 */
export class SessionStore {
  private readonly cache = new Map<string, { state: SessionState; at: number; touched: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    /**
     * Tells the other workers that a session was updated or deleted, so they drop their cached
     * copy (see Relay.sessionChanged); awaited before the change is reported done.
     */
    private readonly announce: (id: string) => Promise<void> = async () => undefined,
  ) {}

  static newId(): string {
    return randomBytes(18).toString('base64url');
  }

  async create(state: SessionState): Promise<void> {
    await this.redis.set(redisKeys.session(state.id), JSON.stringify(state), 'EX', this.ttlSeconds);
    const now = Date.now();
    this.cache.set(state.id, { state, at: now, touched: now });
  }

  async get(id: string): Promise<SessionState | null> {
    const now = Date.now();
    const hit = this.cache.get(id);
    if (hit && now - hit.at < LOCAL_TTL_MS) {
      if (now - hit.touched > TOUCH_EVERY_MS) {
        hit.touched = now;
        this.redis.expire(redisKeys.session(id), this.ttlSeconds).catch(() => undefined);
      }
      return hit.state;
    }
    let raw: string | null;
    try {
      raw = await this.redis.get(redisKeys.session(id));
    } catch (e) {
      // Redis is away: a session this worker knows keeps working; an unknown one cannot be checked.
      if (hit) return hit.state;
      throw e;
    }
    if (!raw) {
      this.cache.delete(id);
      return null;
    }
    const state = JSON.parse(raw) as SessionState;
    this.cache.set(id, { state, at: now, touched: hit?.touched ?? 0 });
    if (!hit || now - hit.touched > TOUCH_EVERY_MS) {
      this.cache.get(id)!.touched = now;
      this.redis.expire(redisKeys.session(id), this.ttlSeconds).catch(() => undefined);
    }
    if (this.cache.size > 50_000) this.evictOldest();
    return state;
  }

  async update(state: SessionState): Promise<void> {
    await this.redis.set(redisKeys.session(state.id), JSON.stringify(state), 'EX', this.ttlSeconds);
    const now = Date.now();
    this.cache.set(state.id, { state, at: now, touched: now });
    await this.announce(state.id);
  }

  async delete(id: string): Promise<void> {
    this.cache.delete(id);
    await this.redis.del(redisKeys.session(id));
    await this.announce(id);
  }

  /** Drop a session from this worker's cache (another worker changed or deleted it). */
  forget(id: string): void {
    this.cache.delete(id);
  }

  private evictOldest(): void {
    const cutoff = Date.now() - LOCAL_TTL_MS;
    for (const [id, e] of this.cache) if (e.at < cutoff) this.cache.delete(id);
  }
}
