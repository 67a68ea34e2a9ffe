import type { PolicySnapshot } from '@toolgate/contracts';
import type { SnapshotSource } from '../core/ports';

type Listener = (orgId: string, next: PolicySnapshot | null, prev: PolicySnapshot | null) => void;

/**
 * Snapshots handed over by their owner in this process (the standalone gateway's compiled YAML)
 * instead of read from Redis. A newer version replaces the old one and tells the listeners, as a
 * notice on `tg:snapshots` does for the platform's store.
 */
export class StaticSnapshots implements SnapshotSource {
  private readonly byOrg = new Map<string, PolicySnapshot>();
  private readonly listeners = new Set<Listener>();

  /** Serve `next` from now on; an older or equal version is ignored (a late, stale compile). */
  publish(next: PolicySnapshot): void {
    const prev = this.byOrg.get(next.orgId) ?? null;
    if (prev && prev.version >= next.version) return;
    this.byOrg.set(next.orgId, next);
    for (const l of this.listeners) l(next.orgId, next, prev);
  }

  get size(): number {
    return this.byOrg.size;
  }

  orgIds(): IterableIterator<string> {
    return this.byOrg.keys();
  }

  get(orgId: string): PolicySnapshot | null {
    return this.byOrg.get(orgId) ?? null;
  }

  async bySlug(slug: string): Promise<PolicySnapshot | null> {
    for (const snap of this.byOrg.values()) if (snap.orgSlug === slug) return snap;
    return null;
  }

  async reload(orgId: string): Promise<PolicySnapshot | null> {
    return this.get(orgId);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
