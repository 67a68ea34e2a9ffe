import { randomBytes } from 'node:crypto';
import type { GatewayTaskRecord, SnapshotServer } from '@toolgate/contracts';
import type { PolicyRequest, Redactor } from '@toolgate/policy';
import type { BackendPool } from '../backends/pool';
import { type Backend, BackendError, type CallContext } from '../backends/types';
import { type JsonRpcNotification, RpcCode, RpcError } from './jsonrpc';
import type { AgentChannel, Caller } from './caller';
import type { CallRecord } from './call-record';
import type { SessionState } from './sessions';
import type { TaskRemotePort, TaskStorePort } from './ports';

/**
 * MCP tasks (2025-11-25, experimental) through the gateway. A task-augmented tools/call creates
 * the task upstream; the gateway records it in Redis under an id of its own and answers every
 * later tasks/* request only for the agent (org, key, session) that created it, on the backend
 * that holds it, which may live on another worker (redis/task-remote.ts). Anyone else gets the same
 * -32602 as for an id that never existed.
 */
export const TASK_METHODS = ['tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel'] as const;
export type TaskMethod = (typeof TASK_METHODS)[number];
export const isTaskMethod = (m: string): m is TaskMethod => (TASK_METHODS as readonly string[]).includes(m);

/** What agents are told: the gateway lists and cancels tasks and accepts task-augmented tools/call. */
export const TASKS_CAPABILITY = { list: {}, cancel: {}, requests: { tools: { call: {} } } } as const;
export const TASK_STATUS = 'notifications/tasks/status';
export const RELATED_TASK = 'io.modelcontextprotocol/related-task';
/** A task without a ttl (or a longer one) is kept this long at most. */
export const MAX_TASK_TTL_MS = 24 * 3600_000;
export const TASK_PAGE_SIZE = 50;
/** Tasks one session may hold at once (default of TaskBrokerDeps.maxTasksPerSession). */
export const MAX_TASKS_PER_SESSION = 1000;
/**
 * tasks/result blocks until the task ends (the spec), but the gateway holds the call at most this
 * long, below the HTTP backend's 5-minute idle-stream limit; the agent may ask again.
 */
export const TASK_RESULT_WAIT_MS = 4 * 60_000;

const NOT_FOUND = 'Failed to retrieve task: Task not found';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What McpCore lends the broker for one agent request (its policy, backends and call context). */
export interface TaskHost {
  caller: Caller;
  session: SessionState;
  record: CallRecord;
  channel: AgentChannel;
  signal: AbortSignal;
  /** The server by slug, when it is still in the caller's scope. */
  server(slug: string): SnapshotServer | null;
  /** decide() for the caller; throws -32003 with data.rule when denied. */
  authorize(request: PolicyRequest): void;
  /** What the caller may see of `server`'s output (its secrets, the caller's role patterns). */
  redact(server: SnapshotServer): Redactor;
  /** The hooks a call to `server` relays its notifications and server requests through. */
  context(server: SnapshotServer, backendKey: string, channel: AgentChannel): CallContext;
}

/** What the creating tools/call knows when the upstream answers with a CreateTaskResult. */
export interface TaskOrigin {
  caller: Caller;
  session: SessionState;
  server: SnapshotServer;
  tool: string;
  arguments: Record<string, unknown> | undefined;
  backend: Backend;
  redact: Redactor;
}

export interface TaskBrokerDeps {
  store: TaskStorePort;
  pool: Pick<BackendPool, 'peek'>;
  workerId: string;
  /** Task operations for tasks held by other workers; null = single worker. */
  remote: TaskRemotePort | null;
  /** The way to a session's agent outside any call (status notifications). */
  sessionChannel: (sessionId: string) => AgentChannel;
  maxTasksPerSession?: number;
  now?: () => number;
}

export class TaskBroker {
  private readonly instances = new WeakMap<Backend, string>();

  constructor(private readonly deps: TaskBrokerDeps) {}

  static newId(): string {
    return `tgt_${randomBytes(18).toString('base64url')}`;
  }

  /** Names one backend object: a restarted backend under the same pool key no longer holds the old tasks. */
  instanceOf(backend: Backend): string {
    let id = this.instances.get(backend);
    if (!id) {
      id = randomBytes(8).toString('hex');
      this.instances.set(backend, id);
    }
    return id;
  }

  /** The backend a task lives in, if this worker still runs that very instance. */
  localBackend(key: string, instance: string): Backend | null {
    const b = this.deps.pool.peek(key);
    return b && this.instances.get(b) === instance ? b : null;
  }

  /**
   * A task-augmented call may only go to an upstream that accepts one (-32601, as the spec
   * advises), and a session holds a bounded number of tasks (each is a Redis record for its ttl).
   */
  async assertAugmentable(backend: Backend, tool: string, session: SessionState): Promise<void> {
    const info = await backend.ready();
    if (!acceptsTaskCalls(info.capabilities)) {
      throw new RpcError(RpcCode.MethodNotFound, `Tool ${tool} does not support task-augmented execution`);
    }
    const { store } = this.deps;
    const max = this.deps.maxTasksPerSession ?? MAX_TASKS_PER_SESSION;
    if ((await store.size(session.orgId, session.id)) >= max && (await store.prune(session.orgId, session.id)) >= max) {
      throw new RpcError(RpcCode.InvalidRequest, `A session may hold at most ${max} tasks; let some expire or end the session`);
    }
  }

  /** The upstream answered a task-augmented call: record the task and show the agent the gateway's id. */
  async created(origin: TaskOrigin, result: Record<string, unknown>): Promise<Record<string, unknown>> {
    const task = result.task;
    if (!isObject(task) || typeof task.taskId !== 'string') return result; // it ran the call directly
    const now = this.now();
    const id = TaskBroker.newId();
    const rec: GatewayTaskRecord = {
      schemaVersion: 1,
      id,
      orgId: origin.caller.snapshot.orgId,
      keyId: origin.caller.key.id,
      sessionId: origin.session.id,
      serverId: origin.server.id,
      serverSlug: origin.server.slug,
      tool: origin.tool,
      ...(origin.arguments ? { arguments: origin.arguments } : {}),
      upstreamTaskId: task.taskId,
      backendKey: origin.backend.key,
      backendInstance: this.instanceOf(origin.backend),
      workerId: this.deps.workerId,
      createdAt: now,
      expiresAt: now + taskTtl(task.ttl),
      // Kept for tasks/list: only what the creator could see of it.
      task: origin.redact({ ...task, taskId: id }) as Record<string, unknown>,
    };
    await this.deps.store.save(rec);
    return swapRelated({ ...result, task: rec.task }, rec);
  }

  /** tasks/list: the caller's own tasks, from the gateway's records (an upstream lists every agent's). */
  async list(caller: Caller, session: SessionState, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const cursor = params.cursor;
    if (cursor !== undefined && typeof cursor !== 'string') throw new RpcError(RpcCode.InvalidParams, 'params.cursor must be a string');
    const page = await this.deps.store.page(caller.snapshot.orgId, session.id, cursor, TASK_PAGE_SIZE);
    if (!page) throw new RpcError(RpcCode.InvalidParams, 'Invalid cursor');
    const tasks = page.records.filter((r) => r.keyId === caller.key.id).map((r) => r.task);
    return page.nextCursor ? { tasks, nextCursor: page.nextCursor } : { tasks };
  }

  /** tasks/get, tasks/result, tasks/cancel: owner and policy checked, then run where the task lives. */
  async operate(method: Exclude<TaskMethod, 'tasks/list'>, params: Record<string, unknown>, host: TaskHost) {
    const rec = await this.owned(host, params.taskId);
    const server = host.server(rec.serverSlug);
    if (!server || server.id !== rec.serverId) throw notFound();
    host.record.server = server;
    host.record.target = rec.tool;
    host.record.arguments = { taskId: rec.id };
    // Allowed only while the caller could still make the call that created the task.
    host.authorize({ kind: 'tool', server: server.slug, name: rec.tool, arguments: rec.arguments });
    const result = await this.run(host, server, rec, method).catch((e: unknown) => {
      throw e instanceof RpcError || e instanceof BackendError ? withGatewayId(e, rec) : e;
    });
    return { server, result: await this.shown(rec, method, host.redact(server)(result)) };
  }

  /** A status notification from a backend: only to the session that owns the task, with its id. */
  async onStatus(backendKey: string, n: JsonRpcNotification): Promise<void> {
    const upstreamId = n.params?.taskId;
    if (typeof upstreamId !== 'string') return;
    const rec = await this.deps.store.byUpstream(backendKey, upstreamId);
    // Unknown (expired, or never created through the gateway): nobody may hear of it.
    if (!rec) return;
    const { _meta, ...state } = n.params ?? {};
    const task = { ...state, taskId: rec.id };
    await this.deps.store.update({ ...rec, task });
    this.deps.sessionChannel(rec.sessionId).notify({ jsonrpc: '2.0', method: TASK_STATUS, params: task });
  }

  private async owned(host: TaskHost, taskId: unknown): Promise<GatewayTaskRecord> {
    if (typeof taskId !== 'string' || taskId.length === 0) throw new RpcError(RpcCode.InvalidParams, 'params.taskId must be a string');
    const rec = await this.deps.store.get(host.caller.snapshot.orgId, taskId);
    // Another key's or another session's task answers exactly like one that never existed.
    if (!rec || rec.keyId !== host.caller.key.id || rec.sessionId !== host.session.id || rec.expiresAt <= this.now()) {
      throw notFound();
    }
    return rec;
  }

  /**
   * Run the op on the very backend instance that holds the task, here or on its worker, under the
   * upstream's id; what the upstream says meanwhile reaches the agent with the gateway's id.
   */
  private async run(host: TaskHost, server: SnapshotServer, rec: GatewayTaskRecord, method: string): Promise<Record<string, unknown>> {
    const upstream = { taskId: rec.upstreamTaskId };
    const timeoutMs = method === 'tasks/result' ? resultWait(server.timeoutMs, rec.expiresAt - this.now()) : server.timeoutMs;
    const ctx = { ...host.context(server, rec.backendKey, relatedChannel(host.channel, rec)), timeoutMs };
    try {
      if (rec.workerId !== this.deps.workerId) {
        if (!this.deps.remote) throw lost();
        return await this.deps.remote.call(rec, method, upstream, ctx);
      }
      // A restarted backend under the same pool key no longer holds the task.
      const held = this.localBackend(rec.backendKey, rec.backendInstance);
      if (!held) throw lost();
      return await held.request(method, upstream, ctx);
    } catch (e) {
      recordFailure(host, e);
      throw e;
    }
  }

  /** The upstream's answer with the gateway's id in place of its own; the last state kept for tasks/list. */
  private async shown(rec: GatewayTaskRecord, method: string, result: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (method === 'tasks/result') return swapRelated(result, rec);
    const { _meta, ...state } = result;
    const task = { ...state, taskId: rec.id };
    await this.deps.store.update({ ...rec, task }).catch(() => undefined);
    return task;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

/** How long tasks/result may block: until the task ends, within the task's life and TASK_RESULT_WAIT_MS. */
export function resultWait(serverTimeoutMs: number, lifeLeftMs: number): number {
  return Math.max(serverTimeoutMs, Math.min(TASK_RESULT_WAIT_MS, lifeLeftMs));
}

/** The audit outcome of a failed op, judged as McpCore judges a failed call. */
function recordFailure(host: TaskHost, e: unknown): void {
  const err = e instanceof BackendError ? e : null;
  host.record.outcome = host.signal.aborted
    ? 'error'
    : err?.kind === 'timeout'
      ? 'timeout'
      : err && err.kind !== 'upstream'
        ? 'upstream_error'
        : 'error';
  host.record.error = e instanceof Error ? e.message : String(e);
}

/** Does the upstream declare task-augmented tools/call (capabilities.tasks.requests.tools.call)? */
export function acceptsTaskCalls(capabilities: Record<string, unknown>): boolean {
  const tasks = capabilities.tasks;
  const requests = isObject(tasks) ? tasks.requests : undefined;
  const tools = isObject(requests) ? requests.tools : undefined;
  return isObject(tools) && tools.call !== undefined;
}

/**
 * tools/list items as agents may use them: an upstream that does not accept task-augmented calls
 * has its tools' `execution.taskSupport` removed (the gateway advertises tasks for every server,
 * so the per-tool value is all an agent has to go by); others pass through unchanged.
 */
export function withTaskSupport(capabilities: Record<string, unknown>, items: Record<string, unknown>[]): Record<string, unknown>[] {
  if (acceptsTaskCalls(capabilities)) return items;
  return items.map((item) => {
    const execution = item.execution;
    if (!isObject(execution) || execution.taskSupport === undefined) return item;
    const { taskSupport, ...rest } = execution;
    return { ...item, execution: rest };
  });
}

/** How long the gateway keeps a task: its ttl, never beyond MAX_TASK_TTL_MS (null = unlimited). */
export function taskTtl(ttl: unknown): number {
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? Math.min(ttl, MAX_TASK_TTL_MS) : MAX_TASK_TTL_MS;
}

/** Messages of a task op reach the agent with the gateway's task id in their related-task meta. */
export function relatedChannel(channel: AgentChannel, rec: Pick<GatewayTaskRecord, 'id' | 'upstreamTaskId'>): AgentChannel {
  return {
    notify: (n) => channel.notify(n.params ? { ...n, params: swapRelated(n.params, rec) } : n),
    request: (method, params, signal) => channel.request(method, params ? swapRelated(params, rec) : params, signal),
  };
}

/** A copy whose `_meta[related-task].taskId` names the gateway's task instead of the upstream's. */
export function swapRelated(
  value: Record<string, unknown>,
  rec: Pick<GatewayTaskRecord, 'id' | 'upstreamTaskId'>,
): Record<string, unknown> {
  const meta = value._meta;
  if (!isObject(meta) || !isObject(meta[RELATED_TASK])) return { ...value };
  return { ...value, _meta: { ...meta, [RELATED_TASK]: { ...meta[RELATED_TASK], taskId: rec.id } } };
}

/** An upstream error about the task, with the upstream's id replaced by the gateway's. */
function withGatewayId(e: RpcError | BackendError, rec: GatewayTaskRecord): Error {
  const { code, message, data } = e instanceof RpcError ? e : e.error;
  const swap = (s: string) => s.split(rec.upstreamTaskId).join(rec.id);
  const clean = new RpcError(code, swap(message), typeof data === 'string' ? swap(data) : data);
  return e instanceof BackendError ? new BackendError(clean.toJSON(), e.kind, e.operator) : clean;
}

function notFound(): RpcError {
  return new RpcError(RpcCode.InvalidParams, NOT_FOUND);
}

/** Only its owner learns this: the backend that held the task stopped, and the task with it. */
function lost(): RpcError {
  return new RpcError(RpcCode.InvalidParams, `${NOT_FOUND} (the server that ran it has restarted)`);
}
