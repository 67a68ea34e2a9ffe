import {
  isSupportedProtocolVersion,
  LATEST_PROTOCOL_VERSION,
  type Outcome,
  type PolicySnapshot,
  type SnapshotKey,
  type SnapshotServer,
} from '@toolgate/contracts';
import { type EdgeRateLimits, type Redactor, type RequestKind, seesServer } from '@toolgate/policy';
import type { BackendPool } from '../backends/pool';
import { type Backend } from '../backends/types';
import { BackendDirectory } from './backends';
import { authorize, type CallRecord, newRecord, recordEvents, toRpcError, unrecorded } from './call-record';
import { type AgentChannel, type Audience, type Caller, currentKey } from './caller';
import { AgentCancelled } from './cancellation';
import { Catalog } from './catalog';
import { askAgent, Forwarder } from './forwarding';
import {
  failure,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  RpcCode,
  RpcError,
  serializeOnce,
  success,
} from './jsonrpc';
import { exposedUri } from './naming';
import { LOG_LEVELS } from './logging';
import type { EventSink, QuotaPort, RateLimiterPort } from './ports';
import { enforceQuota } from './quota';
import { callRateLimits, enforceRateLimits } from './ratelimit';
import { Redactors } from './redaction';
import { resolveTarget } from './resolve';
import { exposeResultUris } from './result-uris';
import type { SessionState } from './sessions';
import { SubscriptionHolders } from './subscription-holders';
import { isTaskMethod, TASK_METHODS, TASK_STATUS, TASKS_CAPABILITY, type TaskBroker, type TaskMethod } from './tasks';

export const GATEWAY_INFO = { name: 'toolgate', title: 'Toolgate MCP gateway', version: '0.1.0' } as const;

/** Methods agents may send; anything else is -32601 before it reaches any upstream. */
export const REQUEST_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  ...TASK_METHODS,
]);

/** Resource subscriptions one session may hold. */
const MAX_SUBSCRIPTIONS = 256;

export interface CoreDeps {
  pool: BackendPool;
  limiter: RateLimiterPort;
  /** The operator's per-org and per-client-address limits (gateway config), beside the roles'. */
  edgeLimits?: EdgeRateLimits;
  /** Monthly call quotas (plan.monthlyCallQuota); none = not enforced. */
  quota?: QuotaPort;
  events: EventSink;
  secretKey: Buffer;
  /** Unsolicited upstream notifications (list_changed, resources/updated) to fan out to sessions. */
  onUpstreamNotification?: (orgId: string, server: string, n: JsonRpcNotification, audience: Audience) => void;
  /** The way to a session's agent outside any call (its GET stream, on whichever worker holds it). */
  sessionChannel?: (sessionId: string) => AgentChannel;
  /** The org's snapshot as this worker has it now: what decides who may hear a backend outside any call. */
  currentSnapshot: (orgId: string) => PolicySnapshot | null;
  /** MCP tasks: ownership, ids and the backend each task lives in (core/tasks.ts). */
  tasks: TaskBroker;
  /** Writes back a session whose state a request changed (log level, subscriptions). */
  saveSession: (session: SessionState) => Promise<void>;
}

/** What the transport knows of a request that the core does not. */
export interface RequestIo {
  bytesIn: number;
  /** The agent went away before the answer (its response stream closed). */
  disconnected: () => boolean;
}

/**
 * The MCP logic of the gateway, independent of the transport: aggregation and namespacing,
 * authorization, rate limits, forwarding, redaction and the audit record of every message, from
 * the request to its events (the transport only frames, authenticates and writes).
 */
export class McpCore {
  private readonly backends: BackendDirectory;
  private readonly catalog: Catalog;
  private readonly redactors: Redactors;
  private readonly forwarder: Forwarder;
  private readonly subscriptionHolders = new SubscriptionHolders();

  constructor(private readonly deps: CoreDeps) {
    this.backends = new BackendDirectory({
      pool: deps.pool,
      secretKey: deps.secretKey,
      sessionChannel: deps.sessionChannel,
      outOfCall: {
        notification: (backend, orgId, server, n, audience) => this.upstreamNotification(backend, orgId, server, n, audience),
        request: (caller, server, session, r, channel) => this.outOfCallRequest(caller, server, session, r, channel),
      },
    });
    this.redactors = new Redactors((snapshot, server) => this.backends.specFor(snapshot, server).secrets);
    this.forwarder = new Forwarder(this.backends, this.redactors, deps.tasks);
    this.catalog = new Catalog({
      backendFor: (caller, session, server) => this.backends.forSession(caller, session, server),
      redactor: (caller, server) => this.redactors.forCaller(caller, server),
    });
  }

  // ---- initialize --------------------------------------------------------------------------

  negotiate(requested: unknown): string {
    return isSupportedProtocolVersion(requested) ? requested : LATEST_PROTOCOL_VERSION;
  }

  initializeResult(caller: Caller, protocolVersion: string): Record<string, unknown> {
    const where = caller.scope ? `the "${caller.scope}" server` : 'every server your key may use, as {server}__{name}';
    return {
      protocolVersion,
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        completions: {},
        logging: {},
        ...(protocolVersion >= '2025-11-25' ? { tasks: TASKS_CAPABILITY } : {}),
      },
      serverInfo: GATEWAY_INFO,
      instructions: `Toolgate gateway for ${caller.snapshot.orgSlug}: ${where}. Calls are authorized, rate-limited and audited.`,
    };
  }

  // ---- requests ----------------------------------------------------------------------------

  /**
   * Serve one request of an initialized session. Throws RpcError for anything the agent should
   * see as a JSON-RPC error; `record` is filled in for the audit trail either way.
   */
  async handle(
    caller: Caller,
    session: SessionState,
    req: JsonRpcRequest,
    channel: AgentChannel,
    signal: AbortSignal,
    record: CallRecord,
  ): Promise<Record<string, unknown>> {
    try {
      return await this.dispatch(caller, session, req, channel, signal, record);
    } catch (e) {
      // Every error leaves here, whoever made it: upstream errors (and BackendErrors that quote
      // an upstream) may carry the secrets injected into it. A single-server endpoint's lists
      // name no server in the record, but can only have failed on that one.
      const server = record.server ?? (caller.scope ? (this.serversInScope(caller)[0] ?? null) : null);
      throw this.redactors.error(caller, server, toRpcError(e));
    }
  }

  /**
   * One request of an initialized session, its whole life: served or refused, its outcome settled
   * (a cancelled call gets no response; a call whose agent went away counts as cancelled), the
   * session written back if the request changed it, and its events handed over. `response` is
   * null when the agent cancelled: per MCP, nothing is answered.
   */
  async run(
    caller: Caller,
    session: SessionState,
    msg: JsonRpcRequest,
    channel: AgentChannel,
    signal: AbortSignal,
    io: RequestIo,
  ): Promise<{ response: JsonRpcResponse | null; outcome: Outcome }> {
    if (!REQUEST_METHODS.has(msg.method)) {
      return { response: failure(msg.id, { code: RpcCode.MethodNotFound, message: `Method not found: ${msg.method}` }), outcome: 'error' };
    }
    if (msg.method === 'initialize') {
      return {
        response: failure(msg.id, { code: RpcCode.InvalidRequest, message: 'The session is already initialized' }),
        outcome: 'error',
      };
    }
    // A call that could not be recorded must not reach the upstream either.
    if (msg.method !== 'ping' && !this.deps.events.accepting) return { response: failure(msg.id, unrecorded(false)), outcome: 'error' };
    const rec = newRecord(msg.method);
    const { logLevel, subscriptions } = session;
    let response: JsonRpcResponse;
    try {
      response = success(msg.id, await this.handle(caller, session, msg, channel, signal, rec));
    } catch (e) {
      const err = toRpcError(e);
      if (rec.outcome === 'ok') {
        rec.outcome = 'error';
        rec.error = err.message;
      }
      response = failure(msg.id, err.toJSON());
    }
    if (session.logLevel !== logLevel || session.subscriptions !== subscriptions) {
      await this.deps.saveSession(session).catch(() => undefined);
    }
    const cancelled = AgentCancelled.of(signal);
    if (cancelled) {
      // The agent gets nothing for it, whether it finished before the cancellation took hold (ok)
      // or the cancellation cut it short (error). Outcomes decided first (denied, timeout…) stay.
      if (rec.outcome === 'ok') rec.error = `The call was cancelled: ${(signal.reason as AgentCancelled).message}`;
      if (rec.outcome === 'ok' || rec.outcome === 'error') rec.outcome = 'cancelled';
    } else if (io.disconnected() && rec.outcome === 'ok') {
      rec.outcome = 'cancelled';
      rec.error = 'The agent disconnected before the response';
    }
    if (msg.method === 'ping') return { response: cancelled ? null : response, outcome: rec.outcome };
    // Serialised once: the transport reuses this text when the response goes out.
    this.emit(caller, session, rec, io.bytesIn, cancelled ? 0 : serializeOnce(response).length);
    if (cancelled) return { response: null, outcome: rec.outcome };
    return { response: await this.recorded(response), outcome: rec.outcome };
  }

  /** An initialize the transport answered with a session: its answer, audited (and waiting for its record) like any request. */
  async initialized(caller: Caller, session: SessionState, msg: JsonRpcRequest, bytesIn: number): Promise<JsonRpcResponse> {
    const response = success(msg.id, this.initializeResult(caller, session.protocolVersion));
    this.emit(caller, session, newRecord('initialize'), bytesIn, serializeOnce(response).length);
    return this.recorded(response);
  }

  /** The answer, once its events are on disk (no success without a record); else the error that says so. */
  private async recorded(response: JsonRpcResponse): Promise<JsonRpcResponse> {
    try {
      await this.deps.events.durable();
      return response;
    } catch {
      return failure(response.id, unrecorded(true));
    }
  }

  private async dispatch(
    caller: Caller,
    session: SessionState,
    req: JsonRpcRequest,
    channel: AgentChannel,
    signal: AbortSignal,
    record: CallRecord,
  ): Promise<Record<string, unknown>> {
    const params = req.params ?? {};
    switch (req.method) {
      case 'ping':
        return {};
      case 'tools/list':
      case 'prompts/list':
      case 'resources/list':
      case 'resources/templates/list':
        return this.catalog.list(caller, session, this.serversInScope(caller), req.method);
      case 'tools/call':
        return this.call(caller, session, 'tool', 'tools/call', params, channel, signal, record);
      case 'prompts/get':
        return this.call(caller, session, 'prompt', 'prompts/get', params, channel, signal, record);
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        return this.call(caller, session, 'resource', req.method, params, channel, signal, record);
      case 'completion/complete':
        return this.complete(caller, session, params, channel, signal, record);
      case 'logging/setLevel': {
        const level = params.level;
        if (typeof level !== 'string' || !LOG_LEVELS.includes(level)) {
          throw new RpcError(RpcCode.InvalidParams, `level must be one of ${LOG_LEVELS.join(', ')}`);
        }
        session.logLevel = level;
        return {};
      }
      default:
        if (isTaskMethod(req.method)) return this.taskOp(caller, session, req.method, params, channel, signal, record);
        throw new RpcError(RpcCode.MethodNotFound, `Method not found: ${req.method}`);
    }
  }

  private serversInScope(caller: Caller): SnapshotServer[] {
    if (!caller.scope) return caller.snapshot.servers;
    const s = caller.snapshot.servers.find((x) => x.slug === caller.scope);
    return s ? [s] : [];
  }

  private async call(
    caller: Caller,
    session: SessionState,
    kind: RequestKind,
    method: string,
    params: Record<string, unknown>,
    channel: AgentChannel,
    signal: AbortSignal,
    record: CallRecord,
  ): Promise<Record<string, unknown>> {
    const field = kind === 'resource' ? 'uri' : 'name';
    const named = params[field];
    if (typeof named !== 'string' || named.length === 0)
      throw new RpcError(RpcCode.InvalidParams, `params.${field} must be a non-empty string`);
    const args = kind === 'resource' ? undefined : params.arguments;
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      throw new RpcError(RpcCode.InvalidParams, 'params.arguments must be an object');
    }
    const { server, name } = await resolveTarget(this.catalog, caller, session, kind, named, record);
    record.server = server;
    record.target = name;
    const redact = this.redactors.forCaller(caller, server);
    record.arguments = args;

    authorize(caller, { kind, server: server.slug, name, arguments: args as Record<string, unknown> | undefined }, record);

    const limits = callRateLimits(caller, kind, server.slug, name, this.deps.edgeLimits);
    await enforceRateLimits(this.deps.limiter, caller.snapshot.orgId, limits, record);

    if (method === 'resources/subscribe' && (session.subscriptions?.length ?? 0) >= MAX_SUBSCRIPTIONS) {
      // The list lives in the session state (Redis): keep it bounded.
      if (!session.subscriptions!.includes(exposedUri(server.slug, name))) {
        throw new RpcError(RpcCode.InvalidRequest, `A session may subscribe to at most ${MAX_SUBSCRIPTIONS} resources`);
      }
    }

    await enforceQuota(this.deps.quota, caller.snapshot, method, record);

    const upstreamParams = { ...params, [field]: name };
    const asTask = kind === 'tool' && params.task !== undefined ? this.backends.forSession(caller, session, server) : null;
    if (asTask) await this.deps.tasks.assertAugmentable(asTask, name, session);
    const forwarded = this.keepsUpstreamSubscription(caller, session, server, method, name)
      ? {}
      : await this.forwarder.forward(caller, session, server, method, upstreamParams, channel, signal, record);
    if (method === 'resources/subscribe')
      this.subscriptionHolders.hold(this.backends.forSession(caller, session, server).key, name, session.id);
    const origin = { caller, session, server, tool: name, arguments: args as Record<string, unknown> | undefined, redact };
    const result = asTask ? await this.deps.tasks.created({ ...origin, backend: asTask }, forwarded) : forwarded;
    if (method === 'resources/subscribe' || method === 'resources/unsubscribe') trackSubscription(session, method, server, name);
    const clean = redact(result);
    return caller.scope ? clean : exposeResultUris(server.slug, clean);
  }

  /**
   * An unsubscribe from a resource other sessions on the same backend still hold: answered here,
   * since the upstream has one subscription for all of them (see SubscriptionHolders).
   */
  private keepsUpstreamSubscription(caller: Caller, session: SessionState, server: SnapshotServer, method: string, uri: string): boolean {
    if (method !== 'resources/unsubscribe') return false;
    return !this.subscriptionHolders.release(this.backends.forSession(caller, session, server).key, uri, session.id);
  }

  private async complete(
    caller: Caller,
    session: SessionState,
    params: Record<string, unknown>,
    channel: AgentChannel,
    signal: AbortSignal,
    record: CallRecord,
  ): Promise<Record<string, unknown>> {
    const ref = params.ref as { type?: unknown; name?: unknown; uri?: unknown } | undefined;
    if (!ref || (ref.type !== 'ref/prompt' && ref.type !== 'ref/resource')) {
      throw new RpcError(RpcCode.InvalidParams, 'params.ref must be a ref/prompt or ref/resource');
    }
    const kind: RequestKind = ref.type === 'ref/prompt' ? 'prompt' : 'resource';
    const named = kind === 'prompt' ? ref.name : ref.uri;
    if (typeof named !== 'string') throw new RpcError(RpcCode.InvalidParams, 'params.ref needs a name (prompt) or uri (resource)');
    const { server, name } = await resolveTarget(this.catalog, caller, session, kind, named, record);
    record.server = server;
    record.target = name;
    // Completing arguments is decided like the prompts/get or resources/read it prepares.
    authorize(caller, { kind, server: server.slug, name }, record);
    const upstream = { ...params, ref: kind === 'prompt' ? { ...ref, name } : { ...ref, uri: name } };
    return this.redactors.forCaller(
      caller,
      server,
    )(await this.forwarder.forward(caller, session, server, 'completion/complete', upstream, channel, signal, record));
  }

  /** tasks/*: the broker checks owner and policy and runs it where the task lives; the answer is redacted like a call's. */
  private async taskOp(
    caller: Caller,
    session: SessionState,
    method: TaskMethod,
    params: Record<string, unknown>,
    channel: AgentChannel,
    signal: AbortSignal,
    record: CallRecord,
  ) {
    if (method === 'tasks/list') return this.deps.tasks.list(caller, session, params);
    const { server, result } = await this.deps.tasks.operate(method, params, {
      ...{ caller, session, record, channel, signal },
      server: (slug) => this.serversInScope(caller).find((s) => s.slug === slug) ?? null,
      authorize: (request) => authorize(caller, request, record),
      redact: (s) => this.redactors.forCaller(caller, s),
      context: (s, key, ch) => this.forwarder.callContext(caller, session, s, key, ch, signal),
    });
    return caller.scope ? result : exposeResultUris(server.slug, result);
  }

  // ---- outside any call ---------------------------------------------------------------------

  /** What a backend says outside any call: a task's status to its owner, list changes drop the cache, the rest fans out. */
  private upstreamNotification(backend: Backend, orgId: string, server: SnapshotServer, n: JsonRpcNotification, audience: Audience): void {
    if (n.method === TASK_STATUS) return void this.deps.tasks.onStatus(backend.key, n).catch(() => undefined);
    this.catalog.changed(backend.key, n.method);
    this.deps.onUpstreamNotification?.(orgId, server.slug, n, audience);
  }

  /**
   * A per-session backend's request outside any call goes to its session's agent like its
   * notifications do: only while the key's roles, as the current snapshot has them, still see the
   * server, and through those roles' redaction.
   */
  private outOfCallRequest(
    owner: Caller,
    server: SnapshotServer,
    session: SessionState,
    r: JsonRpcRequest,
    channel: AgentChannel,
  ): Promise<Record<string, unknown>> {
    const snapshot = this.deps.currentSnapshot(owner.snapshot.orgId);
    const key = snapshot && currentKey(snapshot, owner.key);
    if (!snapshot || !key || !seesServer(snapshot, { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata }, server.slug)) {
      return Promise.reject(new RpcError(RpcCode.InternalError, 'no agent session is waiting for this request'));
    }
    return askAgent(session, this.redactors.outOfCall(snapshot, key)(r), channel);
  }

  /** What a session of `key` hears outside any call passes that key's role patterns. */
  outOfCallRedactor(snapshot: PolicySnapshot, key: SnapshotKey): Redactor {
    return this.redactors.outOfCall(snapshot, key);
  }

  // ---- backends ------------------------------------------------------------------------------

  /** The configuration keys a snapshot wants (the pool closes the backends of the others, whoever owns them). */
  backendKeys(snapshot: PolicySnapshot): string[] {
    return this.backends.keys(snapshot);
  }

  /** An agent session ended: close the backends it owned (per-session servers) on this worker. */
  endSession(sessionId: string): void {
    this.subscriptionHolders.forgetSession(sessionId);
    this.backends.endSession(sessionId);
  }

  /** Does this worker run a backend owned by the session? */
  ownsSessionBackends(sessionId: string): boolean {
    return this.backends.ownsSessionBackends(sessionId);
  }

  /** Forget per-backend state of backends the pool closed. */
  forgetBackend(key: string): void {
    this.backends.forget(key);
    this.catalog.forget(key);
    this.subscriptionHolders.forgetBackend(key);
  }

  // ---- events --------------------------------------------------------------------------------

  /** The events of a message that never reached a caller's session (a failed authentication). */
  emitUnauthenticated(orgId: string, rec: CallRecord, ip: string | null): void {
    const { audit, usage } = recordEvents(rec, { orgId, keyId: null, ip, session: null }, (v) => v, 0, 0);
    this.deps.events.emit(audit, usage);
  }

  /** Hand one finished message's events over (never blocks). */
  private emit(caller: Caller, session: SessionState, rec: CallRecord, bytesIn: number, bytesOut: number): void {
    const party = { orgId: caller.snapshot.orgId, keyId: caller.key.id, ip: caller.ip, session, oauth: caller.oauth };
    const { audit, usage } = recordEvents(rec, party, this.redactors.safe(caller, rec.server), bytesIn, bytesOut);
    this.deps.events.emit(audit, usage);
  }
}

/**
 * Remember what the session subscribed to (the transport persists the session when the list
 * changes), so upstream resources/updated notifications reach only the subscribers.
 */
function trackSubscription(session: SessionState, method: string, server: SnapshotServer, uri: string): void {
  const id = exposedUri(server.slug, uri);
  const current = session.subscriptions ?? [];
  if (method === 'resources/subscribe') {
    if (!current.includes(id)) session.subscriptions = [...current, id];
  } else if (current.includes(id)) {
    session.subscriptions = current.filter((s) => s !== id);
  }
}
