import type { GatewayTaskRecord } from '@toolgate/contracts';
import type { TaskPage, TaskStorePort } from '../core/ports';

/**
 * Task records in process memory (the Redis one is redis/task-store.ts): each record, its
 * session's index and its upstream reference expire with the task. Cursors are an index into the
 * session's list, which only grows at its end and loses expired entries on prune.
 */
export class MemoryTaskStore implements TaskStorePort {
  private readonly tasks = new Map<string, GatewayTaskRecord>();
  private readonly upstream = new Map<string, string>();
  /** Per session, task ids in creation order. */
  private readonly sessions = new Map<string, string[]>();

  async save(rec: GatewayTaskRecord): Promise<void> {
    this.tasks.set(taskKey(rec.orgId, rec.id), structuredClone(rec));
    this.upstream.set(`${rec.backendKey}\u0000${rec.upstreamTaskId}`, taskKey(rec.orgId, rec.id));
    const index = sessionKey(rec.orgId, rec.sessionId);
    const ids = this.sessions.get(index) ?? [];
    ids.push(rec.id);
    this.sessions.set(index, ids);
  }

  async update(rec: GatewayTaskRecord): Promise<void> {
    const have = this.live(taskKey(rec.orgId, rec.id));
    // The record keeps its expiry, and one that expired meanwhile stays gone.
    if (have) this.tasks.set(taskKey(rec.orgId, rec.id), { ...structuredClone(rec), expiresAt: have.expiresAt });
  }

  async get(orgId: string, id: string): Promise<GatewayTaskRecord | null> {
    const rec = this.live(taskKey(orgId, id));
    return rec ? structuredClone(rec) : null;
  }

  async byUpstream(backendKey: string, upstreamTaskId: string): Promise<GatewayTaskRecord | null> {
    const key = this.upstream.get(`${backendKey}\u0000${upstreamTaskId}`);
    const rec = key === undefined ? null : this.live(key);
    return rec ? structuredClone(rec) : null;
  }

  async size(orgId: string, sessionId: string): Promise<number> {
    return this.sessions.get(sessionKey(orgId, sessionId))?.length ?? 0;
  }

  async prune(orgId: string, sessionId: string): Promise<number> {
    const index = sessionKey(orgId, sessionId);
    const alive = (this.sessions.get(index) ?? []).filter((id) => this.live(taskKey(orgId, id)) !== null);
    if (alive.length === 0) this.sessions.delete(index);
    else this.sessions.set(index, alive);
    return alive.length;
  }

  async page(orgId: string, sessionId: string, cursor: string | undefined, limit: number): Promise<TaskPage | null> {
    const ids = this.sessions.get(sessionKey(orgId, sessionId)) ?? [];
    let from = 0;
    if (cursor !== undefined) {
      // The cursor names the last id handed out: pruning before it does not shift the next page.
      const last = Buffer.from(cursor, 'base64url').toString();
      if (!/^tgt_[A-Za-z0-9_-]{1,64}$/.test(last)) return null;
      from = ids.indexOf(last) + 1;
      if (from === 0) from = ids.length;
    }
    const records: GatewayTaskRecord[] = [];
    let i = from;
    for (; i < ids.length && records.length < limit; i++) {
      const rec = this.live(taskKey(orgId, ids[i]!));
      if (rec) records.push(structuredClone(rec));
    }
    const more = i < ids.length;
    return { records, nextCursor: more ? Buffer.from(ids[i - 1]!).toString('base64url') : undefined };
  }

  /** The record, or null once expired (then it is dropped). */
  private live(key: string): GatewayTaskRecord | null {
    const rec = this.tasks.get(key);
    if (!rec) return null;
    if (rec.expiresAt > Date.now()) return rec;
    this.tasks.delete(key);
    this.upstream.delete(`${rec.backendKey}\u0000${rec.upstreamTaskId}`);
    return null;
  }
}

const taskKey = (orgId: string, id: string) => `${orgId}\u0000${id}`;
const sessionKey = (orgId: string, sessionId: string) => `${orgId}\u0000${sessionId}`;
