import type { AuditEvent, GatewayTaskRecord, PolicySnapshot, UsageEvent } from '@toolgate/contracts';
import type { CallContext } from '../backends/types';
import type { RecordedEvent, Recorder } from '../http/event-log';
import type { SessionState } from './sessions';
import type { RateLimit } from '@toolgate/policy';

/** Where per-call events go (BullMQ, batched, spooled to disk while Redis is away). */
export interface EventSink {
  /** Never blocks and never throws: the hot path hands the events over and moves on. */
  emit(audit: AuditEvent, usage: UsageEvent): void;
  /**
   * Resolves once the events of the latest emit() are on disk (one commit shared by the calls
   * that finished together); rejects when they could not be recorded. A call's answer waits for it.
   */
  durable(): Promise<void>;
  /** False while events cannot be recorded (disk refusing or too slow): calls are refused before they run. */
  readonly accepting: boolean;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number; bucket: string };

/** Token buckets: every applicable bucket is checked and charged in one atomic step. */
export interface RateLimiterPort {
  check(orgId: string, limits: readonly RateLimit[]): Promise<RateDecision>;
}

export type QuotaDecision =
  | { allowed: true; used: number | null }
  | { allowed: false; used: number; quota: number; period: string; resetsAt: string };

export interface QuotaPort {
  /** Count one call of `orgId` against `quota` for the current month, or refuse it. Never rejects. */
  charge(orgId: string, quota: number): Promise<QuotaDecision>;
}

/** One page of a session's tasks, oldest first. */
export interface TaskPage {
  records: GatewayTaskRecord[];
  nextCursor: string | undefined;
}

/** Where task ownership lives: shared by every worker, each record expiring with its task. */
export interface TaskStorePort {
  save(rec: GatewayTaskRecord): Promise<void>;
  /** Replace the record's state, keeping its expiry; a record that expired meanwhile stays gone. */
  update(rec: GatewayTaskRecord): Promise<void>;
  get(orgId: string, id: string): Promise<GatewayTaskRecord | null>;
  /** The gateway task of an upstream task, by the backend that holds it. */
  byUpstream(backendKey: string, upstreamTaskId: string): Promise<GatewayTaskRecord | null>;
  /** How many tasks the session's index holds (expired ones included until pruned). */
  size(orgId: string, sessionId: string): Promise<number>;
  /** Drop expired tasks from the session's index; how many remain. */
  prune(orgId: string, sessionId: string): Promise<number>;
  /** Null when the cursor is not one this store made (the caller answers -32602). */
  page(orgId: string, sessionId: string, cursor: string | undefined, limit: number): Promise<TaskPage | null>;
}

/** Task operations for tasks whose backend runs on another worker. */
export interface TaskRemotePort {
  /** Run `method` on the worker holding the task; ctx receives what the upstream says meanwhile. */
  call(
    rec: GatewayTaskRecord,
    method: string,
    params: Record<string, unknown>,
    ctx: CallContext & { timeoutMs: number },
  ): Promise<Record<string, unknown>>;
}

/**
 * Where the org snapshots come from: Redis in the platform (snapshots/store.ts), the compiled
 * YAML file in the standalone gateway (memory/snapshots.ts).
 */
export interface SnapshotSource {
  get(orgId: string): PolicySnapshot | null;
  /** Resolve `/mcp/{slug}`; may throw SnapshotUnavailable when it can neither serve nor refuse. */
  bySlug(slug: string): Promise<PolicySnapshot | null>;
  reload(orgId: string): Promise<PolicySnapshot | null>;
  orgIds(): IterableIterator<string>;
  readonly size: number;
  onChange(listener: (orgId: string, next: PolicySnapshot | null, prev: PolicySnapshot | null) => void): () => void;
}

/** Agent sessions: in Redis shared by every worker (redis/sessions.ts), or in process memory. */
export interface SessionStorePort {
  create(state: SessionState): Promise<void>;
  get(id: string): Promise<SessionState | null>;
  update(state: SessionState): Promise<void>;
  delete(id: string): Promise<void>;
  /** Sessions alive now, or null when that cannot be told. */
  openSessions(): Promise<number | null>;
}

/** The channel between workers for the relay's messages (redis/relay-bus.ts; a no-op in one process). */
export interface RelayBus {
  publish(message: string): Promise<void>;
  subscribe(listener: (message: string) => void): Promise<void>;
}

/** The recent events of a session's SSE streams, for Last-Event-ID resumption (http/event-log.ts). */
export interface StreamEventLog {
  recorder(sessionId: string, streamId: string, kind: 'call' | 'get'): Recorder;
  read(sessionId: string, streamId: string): Promise<RecordedEvent[]>;
}
