import type { ServerTransport } from '@toolgate/contracts';
import { RpcCode } from '../core/jsonrpc';
import type { CircuitState } from './breaker';
import { StdioBackend, type StdioBackendOptions } from './stdio';
import { type Backend, BackendError, type BackendHealth, type BackendSpec } from './types';

/**
 * The backends of one gateway worker, keyed by BackendSpec.key (org + server + hash of its
 * config and opened secrets, plus the owning agent key or session for isolated servers: see
 * ownedSpec in core/backend-spec.ts).
 *
 * - get(spec) returns the backend of spec.key, creating it with the factory of its transport.
 *   Creating does not start it: the backend connects on its first call.
 * - Idle reaping: a timer (unref'd) closes backends that have no call in flight and have not
 *   been used for `idleMs`.
 * - retain(keys) retires every backend whose configuration key is not wanted any more (a
 *   snapshot changed a server's config or disabled it); retireWhere(test) those whose key passes
 *   (an agent session ended). It leaves the pool at once, so the next get() builds the
 *   new one; if it still has calls in flight it is closed when they finish (or after
 *   `drainTimeoutMs`).
 * - maxBackends caps how many backends live at once: making one more evicts the least recently
 *   used idle backend; when every backend is busy, get() throws BackendError 'unavailable'.
 * - onRetire(key, reason) is called whenever a backend leaves the pool (idle, evicted,
 *   retired, shutdown): per-backend state kept elsewhere (listeners, catalogue caches) must be
 *   dropped then, because the next get() of that key returns a NEW instance.
 * - closeAll() closes everything, retired ones still draining included, and waits for it.
 */

export type BackendFactory = (spec: BackendSpec) => Backend;
/** How each transport's backends are made: one value shared by the pool and the prober. */
export type BackendFactories = Partial<Record<ServerTransport, BackendFactory>>;
export type RetireReason = 'idle' | 'evicted' | 'retired' | 'shutdown';

export interface BackendPoolOptions {
  /** How each transport's backends are made. stdio defaults to StdioBackend with `stdio` options. */
  factories?: BackendFactories;
  /** Options of the default stdio factory (ignored when factories.stdio is given; no stdio without either). */
  stdio?: StdioBackendOptions;
  /** Close backends idle for this long (ms). Default 10 minutes. */
  idleMs?: number;
  /** How often to look for idle backends (ms). Default min(idleMs, 30 s). */
  reapIntervalMs?: number;
  /** Most backends alive at once. Default 500. */
  maxBackends?: number;
  /** A retired backend with calls in flight is closed after them, or after this long (ms). Default 60 s. */
  drainTimeoutMs?: number;
  /** A backend left the pool (see the class comment). */
  onRetire?: (key: string, reason: RetireReason) => void;
  /** close() of a backend failed (for logs; the pool goes on). */
  onCloseError?: (key: string, error: unknown) => void;
}

/** One row of stats(): how many backends of a transport are in a health state. */
export interface PoolStat {
  transport: ServerTransport;
  health: BackendHealth;
  count: number;
}

interface Entry {
  readonly backend: Backend;
  readonly transport: ServerTransport;
  readonly orgId: string;
  /** BackendSpec.configKey: what retain() compares. */
  readonly configKey: string;
  /** Last get() (a backend fetched but not yet called is not idle). */
  lastGetAt: number;
}

/** How often a draining backend is checked for its last call to finish (ms). */
const DRAIN_POLL_MS = 100;

export class BackendPool {
  private readonly entries = new Map<string, Entry>();
  /** Retired backends still finishing their calls. */
  private readonly draining = new Map<Backend, { entry: Entry; timer: NodeJS.Timeout; until: number }>();
  /** close() calls in progress, awaited by closeAll(). */
  private readonly closing = new Set<Promise<void>>();
  private readonly factories: BackendFactories;
  private readonly idleMs: number;
  private readonly maxBackends: number;
  private readonly drainTimeoutMs: number;
  private readonly onRetire: (key: string, reason: RetireReason) => void;
  private readonly onCloseError: (key: string, error: unknown) => void;
  private readonly reapTimer: NodeJS.Timeout;
  private shutDown = false;

  constructor(options: BackendPoolOptions = {}) {
    const stdioOptions = options.stdio;
    this.factories = {
      ...(stdioOptions ? { stdio: (spec: BackendSpec) => new StdioBackend(spec, stdioOptions) } : {}),
      ...options.factories,
    };
    this.idleMs = options.idleMs ?? 10 * 60_000;
    this.maxBackends = Math.max(1, options.maxBackends ?? 500);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 60_000;
    this.onRetire = options.onRetire ?? (() => undefined);
    this.onCloseError = options.onCloseError ?? (() => undefined);
    this.reapTimer = setInterval(() => this.reapIdle(), options.reapIntervalMs ?? Math.min(this.idleMs, 30_000));
    this.reapTimer.unref();
  }

  /** Backends in the pool (retired ones still draining are not counted). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The shared backend for spec.key, made on first use. Throws BackendError 'unavailable' when
   * the transport has no factory, the cap is reached with every backend busy, or the pool is
   * shut down; a factory's own error (e.g. a stdio server without command) passes through.
   */
  get(spec: BackendSpec): Backend {
    const now = Date.now();
    const found = this.entries.get(spec.key);
    if (found !== undefined) {
      found.lastGetAt = now;
      return found.backend;
    }
    if (this.shutDown) throw unavailable('The gateway is shutting down');
    const transport = spec.server.transport;
    const factory = this.factories[transport];
    if (!factory) throw unavailable(`This gateway has no backend for the ${transport} transport (server "${spec.server.slug}")`);
    if (this.entries.size >= this.maxBackends) this.evictOne();
    const backend = factory(spec);
    this.entries.set(spec.key, { backend, transport, orgId: spec.orgId, configKey: spec.configKey ?? spec.key, lastGetAt: now });
    return backend;
  }

  /** The backend of a key, if the pool has it (does not count as use). */
  peek(key: string): Backend | undefined {
    return this.entries.get(key)?.backend;
  }

  /**
   * Retire every backend whose key is not in `keys` (only those of `orgId` when given, so one
   * org's snapshot can be applied alone). Returns the retired keys; closing goes on in the
   * background and closeAll() waits for it.
   */
  retain(keys: ReadonlySet<string>, orgId?: string): string[] {
    const retired: string[] = [];
    for (const [key, entry] of this.entries) {
      if (keys.has(entry.configKey) || (orgId !== undefined && entry.orgId !== orgId)) continue;
      this.entries.delete(key);
      retired.push(key);
      this.retire(entry, 'retired');
    }
    return retired;
  }

  /** Retire every backend whose key passes `test` (closed once its calls finish). Returns their keys. */
  retireWhere(test: (key: string) => boolean): string[] {
    const retired: string[] = [];
    for (const [key, entry] of this.entries) {
      if (!test(key)) continue;
      this.entries.delete(key);
      retired.push(key);
      this.retire(entry, 'retired');
    }
    return retired;
  }

  /** Is some backend's key passing `test` in the pool? */
  has(test: (key: string) => boolean): boolean {
    for (const key of this.entries.keys()) if (test(key)) return true;
    return false;
  }

  /** Close backends idle past idleMs now (the timer calls this). Returns their keys. */
  reapIdle(now: number = Date.now()): string[] {
    const reaped: string[] = [];
    for (const [key, entry] of this.entries) {
      if (entry.backend.inFlight > 0 || now - lastUse(entry) < this.idleMs) continue;
      this.entries.delete(key);
      reaped.push(key);
      this.retire(entry, 'idle');
    }
    return reaped;
  }

  /** Counts by transport and health, retired backends still draining included. */
  stats(): PoolStat[] {
    const rows = new Map<string, PoolStat>();
    const add = (transport: ServerTransport, health: BackendHealth) => {
      const k = `${transport}|${health}`;
      const row = rows.get(k);
      if (row) row.count++;
      else rows.set(k, { transport, health, count: 1 });
    };
    for (const e of this.entries.values()) add(e.transport, e.backend.health);
    for (const d of this.draining.values()) add(d.entry.transport, d.entry.backend.health);
    return [...rows.values()];
  }

  /**
   * The circuit state of every backend that has a breaker, by org id and server slug (the worst
   * when a server has several backends: an isolated one per key or session), retired ones still
   * draining included.
   */
  circuits(): Array<{ orgId: string; server: string; state: CircuitState }> {
    const rank: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };
    const rows = new Map<string, { orgId: string; server: string; state: CircuitState }>();
    const add = (e: Entry) => {
      const state = e.backend.circuit;
      if (state === undefined) return;
      const k = `${e.orgId}|${e.backend.server.slug}`;
      const row = rows.get(k);
      if (!row) rows.set(k, { orgId: e.orgId, server: e.backend.server.slug, state });
      else if (rank[state] > rank[row.state]) row.state = state;
    };
    for (const e of this.entries.values()) add(e);
    for (const d of this.draining.values()) add(d.entry);
    return [...rows.values()];
  }

  /** Close every backend and wait until all are closed. get() refuses from now on. */
  async closeAll(): Promise<void> {
    this.shutDown = true;
    clearInterval(this.reapTimer);
    for (const [key, entry] of this.entries) {
      this.entries.delete(key);
      this.closeNow(entry, 'shutdown');
    }
    for (const [backend, d] of this.draining) {
      clearTimeout(d.timer);
      this.draining.delete(backend);
      this.closeNow(d.entry, null);
    }
    while (this.closing.size > 0) await Promise.all([...this.closing]);
  }

  // ---- internals --------------------------------------------------------------------------

  /** Make room for one more: close the least recently used idle backend. */
  private evictOne(): void {
    let victim: [string, Entry] | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const pair of this.entries) {
      const entry = pair[1];
      if (entry.backend.inFlight > 0) continue;
      const used = lastUse(entry);
      if (used < oldest) {
        oldest = used;
        victim = pair;
      }
    }
    if (!victim)
      throw unavailable(`The gateway runs its maximum of ${this.maxBackends} backends and all of them are busy; try again shortly`);
    this.entries.delete(victim[0]);
    this.retire(victim[1], 'evicted');
  }

  /** Out of the pool: close now if idle, else once its calls finish (or the drain deadline passes). */
  private retire(entry: Entry, reason: RetireReason): void {
    if (entry.backend.inFlight === 0) {
      this.closeNow(entry, reason);
      return;
    }
    this.notifyRetire(entry.backend.key, reason);
    const until = Date.now() + this.drainTimeoutMs;
    const check = () => {
      const d = this.draining.get(entry.backend);
      if (!d) return;
      if (entry.backend.inFlight > 0 && Date.now() < d.until) {
        d.timer = setTimeout(check, DRAIN_POLL_MS);
        d.timer.unref();
        return;
      }
      this.draining.delete(entry.backend);
      this.closeNow(entry, null);
    };
    const timer = setTimeout(check, DRAIN_POLL_MS);
    timer.unref();
    this.draining.set(entry.backend, { entry, timer, until });
  }

  /** Close and track; `reason` null when onRetire was already called. */
  private closeNow(entry: Entry, reason: RetireReason | null): void {
    const backend = entry.backend;
    if (reason !== null) this.notifyRetire(backend.key, reason);
    let p: Promise<void>;
    try {
      p = backend.close();
    } catch (e) {
      p = Promise.reject(e);
    }
    const tracked = p.then(
      () => undefined,
      (e: unknown) => this.onCloseError(backend.key, e),
    );
    this.closing.add(tracked);
    tracked.then(() => this.closing.delete(tracked));
  }

  private notifyRetire(key: string, reason: RetireReason): void {
    try {
      this.onRetire(key, reason);
    } catch (e) {
      this.onCloseError(key, e);
    }
  }
}

function lastUse(entry: Entry): number {
  return Math.max(entry.backend.lastUsedAt, entry.lastGetAt);
}

function unavailable(message: string): BackendError {
  return new BackendError({ code: RpcCode.UpstreamUnavailable, message }, 'unavailable');
}
