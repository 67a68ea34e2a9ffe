import type { SessionStorePort } from '../core/ports';
import type { SessionState } from '../core/sessions';

/** Sweep expired sessions at most this often. */
const SWEEP_EVERY_MS = 60_000;

/**
 * Agent sessions in process memory, for a gateway that is its own only worker. Like the Redis
 * store, a session expires after `ttlSeconds` without a request; stored states are copies, so a
 * caller changing its object changes nothing until it calls update().
 */
export class MemorySessionStore implements SessionStorePort {
  private readonly sessions = new Map<string, { state: SessionState; until: number }>();
  private lastSweep = Date.now();

  constructor(private readonly ttlSeconds: number) {}

  async create(state: SessionState): Promise<void> {
    this.put(state);
  }

  async get(id: string): Promise<SessionState | null> {
    this.sweep();
    const entry = this.sessions.get(id);
    if (!entry) return null;
    if (entry.until <= Date.now()) {
      this.sessions.delete(id);
      return null;
    }
    entry.until = Date.now() + this.ttlSeconds * 1000;
    return structuredClone(entry.state);
  }

  async update(state: SessionState): Promise<void> {
    // Like Redis SET XX: an ended session is not brought back by a late update.
    if (this.sessions.has(state.id)) this.put(state);
  }

  async delete(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  async openSessions(): Promise<number | null> {
    this.sweep(true);
    return this.sessions.size;
  }

  private put(state: SessionState): void {
    this.sessions.set(state.id, { state: structuredClone(state), until: Date.now() + this.ttlSeconds * 1000 });
  }

  private sweep(now = false): void {
    const t = Date.now();
    if (!now && t - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = t;
    for (const [id, e] of this.sessions) if (e.until <= t) this.sessions.delete(id);
  }
}
