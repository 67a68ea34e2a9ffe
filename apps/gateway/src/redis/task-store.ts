import { GatewayTaskRecord, redisKeys } from '@toolgate/contracts';
import type Redis from 'ioredis';
import type { TaskPage, TaskStorePort } from '../core/ports';

/** Index entries fetched beyond a page, to step over ids of the cursor's own millisecond. */
const SAME_MS_SLACK = 32;

/**
 * Redis layout (names in @toolgate/contracts): the record under `task`, a per-session sorted set
 * for tasks/list, and an upstream → gateway id entry for status notifications. All three carry
 * the task's expiry; the set is pruned of expired ids as pages are read.
 */
export class RedisTaskStore implements TaskStorePort {
  constructor(private readonly redis: Redis) {}

  async save(rec: GatewayTaskRecord): Promise<void> {
    const ttl = Math.max(1, rec.expiresAt - Date.now());
    const index = redisKeys.sessionTasks(rec.orgId, rec.sessionId);
    await this.redis
      .multi()
      .set(redisKeys.task(rec.orgId, rec.id), JSON.stringify(rec), 'PX', ttl)
      .set(redisKeys.upstreamTask(rec.backendKey, rec.upstreamTaskId), `${rec.orgId} ${rec.id}`, 'PX', ttl)
      .zadd(index, rec.createdAt, rec.id)
      // NX then GT: a new set gets this expiry, an existing one only ever lengthens.
      .pexpireat(index, rec.expiresAt, 'NX')
      .pexpireat(index, rec.expiresAt, 'GT')
      .exec();
  }

  async update(rec: GatewayTaskRecord): Promise<void> {
    await this.redis.set(redisKeys.task(rec.orgId, rec.id), JSON.stringify(rec), 'KEEPTTL', 'XX');
  }

  async get(orgId: string, id: string): Promise<GatewayTaskRecord | null> {
    return parse(await this.redis.get(redisKeys.task(orgId, id)));
  }

  async byUpstream(backendKey: string, upstreamTaskId: string): Promise<GatewayTaskRecord | null> {
    const ref = await this.redis.get(redisKeys.upstreamTask(backendKey, upstreamTaskId));
    const [orgId, id] = ref?.split(' ') ?? [];
    return orgId && id ? this.get(orgId, id) : null;
  }

  size(orgId: string, sessionId: string): Promise<number> {
    return this.redis.zcard(redisKeys.sessionTasks(orgId, sessionId));
  }

  async prune(orgId: string, sessionId: string): Promise<number> {
    const index = redisKeys.sessionTasks(orgId, sessionId);
    const ids = await this.redis.zrange(index, '0', '-1');
    if (ids.length === 0) return 0;
    const alive = await this.redis.mget(ids.map((id) => redisKeys.task(orgId, id)));
    const gone = ids.filter((_, i) => alive[i] === null);
    if (gone.length > 0) await this.redis.zrem(index, ...gone);
    return ids.length - gone.length;
  }

  async page(orgId: string, sessionId: string, cursor: string | undefined, limit: number): Promise<TaskPage | null> {
    const after = cursor === undefined ? { ms: 0, id: '' } : decodeCursor(cursor);
    if (!after) return null;
    const index = redisKeys.sessionTasks(orgId, sessionId);
    const raw = await this.redis.zrangebyscore(index, after.ms, '+inf', 'WITHSCORES', 'LIMIT', 0, limit + SAME_MS_SLACK + 1);
    const entries: Array<{ id: string; ms: number }> = [];
    for (let i = 0; i + 1 < raw.length; i += 2) entries.push({ id: raw[i]!, ms: Number(raw[i + 1]) });
    // Redis orders equal scores by member, so the cursor's id marks where its millisecond left off.
    const fresh = entries.filter((e) => e.ms > after.ms || e.id > after.id);
    const values = fresh.length > 0 ? await this.redis.mget(fresh.map((e) => redisKeys.task(orgId, e.id))) : [];
    const records: GatewayTaskRecord[] = [];
    const gone: string[] = [];
    let last: { id: string; ms: number } | undefined;
    let i = 0;
    for (; i < fresh.length && records.length < limit; i++) {
      const rec = parse(values[i] ?? null);
      last = fresh[i];
      if (rec) records.push(rec);
      else gone.push(fresh[i]!.id);
    }
    if (gone.length > 0) await this.redis.zrem(index, ...gone);
    // Entries left over, or the slack ran out before the page filled: more may follow.
    const more = i < fresh.length || entries.length === limit + SAME_MS_SLACK + 1;
    return { records, nextCursor: more && last ? encodeCursor(last) : undefined };
  }
}

function parse(raw: string | null): GatewayTaskRecord | null {
  if (raw === null) return null;
  try {
    const r = GatewayTaskRecord.safeParse(JSON.parse(raw));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Opaque to agents (the spec says so); only this store reads it back. */
function encodeCursor(at: { id: string; ms: number }): string {
  return Buffer.from(`${at.ms}:${at.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { ms: number; id: string } | null {
  const text = Buffer.from(cursor, 'base64url').toString();
  const m = /^(\d{1,15}):(tgt_[A-Za-z0-9_-]{1,64})$/.exec(text);
  return m ? { ms: Number(m[1]), id: m[2]! } : null;
}
