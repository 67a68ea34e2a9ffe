import type { PolicySnapshot, SnapshotKey } from '@toolgate/contracts';
import { currentKey } from '../core/caller';

/** Who listens on a stream: its endpoint scope, the key that opened it, the client's address. */
export interface StreamOwner {
  scope: string | null;
  /** The key as it was when the stream opened (or as the last snapshot that kept the stream saw it). */
  key: SnapshotKey;
  ip: string | null;
}

interface Entry extends StreamOwner {
  end: () => void;
  expiry?: NodeJS.Timeout;
}

/** setTimeout's longest delay; a later expiry re-arms when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The long-lived streams this worker holds (Streamable HTTP GET and legacy SSE), by org and
 * session, with the key that opened each: upstream notifications fan out to them, and a key
 * that is revoked, expires or gets other roles loses them at once (the snapshot change reaches
 * every worker, so each ends its own).
 */
export class OpenStreams {
  private readonly byOrg = new Map<string, Map<string, Entry>>();

  /** Track a stream; `end` closes it. The returned function forgets it (idempotent). */
  add(orgId: string, sessionId: string, scope: string | null, key: SnapshotKey, ip: string | null, end: () => void): () => void {
    // One stream per session: an older one would otherwise stay open untracked, out of reach of revocation.
    const older = this.byOrg.get(orgId)?.get(sessionId);
    if (older) this.close(orgId, sessionId, older);
    let sessions = this.byOrg.get(orgId);
    if (!sessions) {
      sessions = new Map();
      this.byOrg.set(orgId, sessions);
    }
    const entry: Entry = { scope, key, ip, end };
    sessions.set(sessionId, entry);
    this.armExpiry(orgId, sessionId, entry);
    const org = sessions;
    return () => {
      clearTimeout(entry.expiry);
      if (org.get(sessionId) !== entry) return;
      org.delete(sessionId);
      if (org.size === 0 && this.byOrg.get(orgId) === org) this.byOrg.delete(orgId);
    };
  }

  /** Session id → who listens, for the org's open streams. */
  *of(orgId: string): IterableIterator<[string, StreamOwner]> {
    const sessions = this.byOrg.get(orgId);
    if (!sessions) return;
    for (const [id, e] of sessions) yield [id, e];
  }

  get size(): number {
    let n = 0;
    for (const m of this.byOrg.values()) n += m.size;
    return n;
  }

  /**
   * The org's snapshot changed: end the streams whose key or OAuth grant is gone (revoked, or the org is gone)
   * or holds other roles (what it may see changed; the agent reopens under the new policy), and
   * re-arm expiry for keys whose expiry moved.
   */
  snapshotChanged(orgId: string, next: PolicySnapshot | null): void {
    const sessions = this.byOrg.get(orgId);
    if (!sessions) return;
    for (const [sessionId, entry] of [...sessions]) {
      const now = next ? currentKey(next, entry.key) : undefined;
      if (!now || now.roleIds.join('\u0000') !== entry.key.roleIds.join('\u0000')) {
        this.close(orgId, sessionId, entry);
      } else if (now.expiresAt !== entry.key.expiresAt) {
        entry.key = now;
        this.armExpiry(orgId, sessionId, entry);
      }
    }
  }

  /** Ends every stream (shutdown). */
  endAll(): void {
    for (const [orgId, sessions] of [...this.byOrg]) {
      for (const [sessionId, entry] of [...sessions]) this.close(orgId, sessionId, entry);
    }
  }

  private armExpiry(orgId: string, sessionId: string, entry: Entry): void {
    clearTimeout(entry.expiry);
    entry.expiry = undefined;
    if (entry.key.expiresAt === null) return;
    const left = Date.parse(entry.key.expiresAt) - Date.now();
    if (left <= 0) {
      this.close(orgId, sessionId, entry);
      return;
    }
    entry.expiry = setTimeout(() => this.armExpiry(orgId, sessionId, entry), Math.min(left, MAX_TIMER_MS));
    entry.expiry.unref();
  }

  private close(orgId: string, sessionId: string, entry: Entry): void {
    clearTimeout(entry.expiry);
    const sessions = this.byOrg.get(orgId);
    if (sessions?.get(sessionId) === entry) {
      sessions.delete(sessionId);
      if (sessions.size === 0) this.byOrg.delete(orgId);
    }
    entry.end();
  }
}
