import {
  type AuditEvent,
  effectiveIsolation,
  isSupportedProtocolVersion,
  LATEST_PROTOCOL_VERSION,
  type Decision as EventDecision,
  type Outcome,
  type PolicySnapshot,
  type SnapshotKey,
  type SnapshotServer,
} from '@toolgate/contracts';
import {
  decide,
  makeRedactor,
  type PolicyRequest,
  type Principal,
  type RequestKind,
  type Redactor,
  rateLimitsFor,
  redactionPatternsFor,
  ruleLabel,
  seesServer,
  templateVisible,
  visible,
} from '@toolgate/policy';
import { uuidv7 } from 'uuidv7';
import type { BackendPool } from '../backends/pool';
import { type Backend, BackendError, type CallContext } from '../backends/types';
import { type OpenedSpec, openBackendSpec, ownedSpec, sessionKeySuffix } from './backend-spec';
import { type JsonRpcNotification, type JsonRpcRequest, RpcCode, RpcError } from './jsonrpc';
import { advertises, LIST_KEY, type ListMethod, listAll } from './lists';
import { exposedName, exposedUri, findExposed, splitExposed, splitUri, unambiguous } from './naming';
import type { EventSink, QuotaPort, RateLimiterPort } from './ports';
import { enforceQuota } from './quota';
import { exposeResultUris } from './result-uris';
import type { SessionState } from './sessions';
import { SubscriptionHolders } from './subscription-holders';
import { isTaskMethod, TASK_METHODS, TASK_STATUS, TASKS_CAPABILITY, type TaskBroker, type TaskMethod, withTaskSupport } from './tasks';

export const GATEWAY_INFO = { name: 'toolgate', title: 'Toolgate MCP gateway', version: '0.1.0' } as const;

/** Who is calling, resolved by the transport from the bearer key and the route. */
export interface Caller {
  snapshot: PolicySnapshot;
  key: SnapshotKey;
  principal: Principal;
  ip: string | null;
  /** `/mcp/{org}/{server}` → that server's slug; `/mcp/{org}` → null (aggregated, namespaced). */
  scope: string | null;
}

/** The way back to the agent for the request being served (SSE stream or session stream). */
export interface AgentChannel {
  notify(n: JsonRpcNotification): void;
  /** A server-to-client request relayed to the agent; resolves with the agent's result. */
  request(method: string, params: Record<string, unknown> | undefined, signal?: AbortSignal): Promise<Record<string, unknown>>;
}

/** What the transport needs to finish the audit record once it knows the response size. */
export interface CallRecord {
  method: string;
  server: SnapshotServer | null;
  target: string | null;
  arguments: unknown;
  decision: EventDecision;
  rule: string | null;
  outcome: Outcome;
  error: string | null;
  startedAt: number;
}

const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

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

const LIST_CHANGED: Record<string, ListMethod[]> = {
  'notifications/tools/list_changed': ['tools/list'],
  'notifications/prompts/list_changed': ['prompts/list'],
  'notifications/resources/list_changed': ['resources/list', 'resources/templates/list'],
};
const LIST_TTL_MS = 60_000;
/** Resource subscriptions one session may hold. */
const MAX_SUBSCRIPTIONS = 256;

export interface CoreDeps {
  pool: BackendPool;
  limiter: RateLimiterPort;
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
}

/**
 * Who may hear what a backend says outside any call: the key or the session that owns an
 * isolated backend; null for a shared one (the org's sessions whose roles can see the server).
 */
export type Audience = { keyId: string } | { sessionId: string } | null;

/**
 * The MCP logic of the gateway, independent of the transport: aggregation and namespacing,
 * authorization, rate limits, forwarding, redaction and the audit record of every call.
 */
export class McpCore {
  /** Opened backend specs per snapshot object (secrets decrypted once per snapshot version). */
  private readonly specs = new WeakMap<PolicySnapshot, Map<string, OpenedSpec>>();
  private readonly lists = new Map<string, Map<ListMethod, { items: Record<string, unknown>[]; at: number }>>();
  private readonly watched = new Set<string>();
  private readonly redactors = new WeakMap<PolicySnapshot, Map<string, Redactor>>();
  private readonly subscriptionHolders = new SubscriptionHolders();

  constructor(private readonly deps: CoreDeps) {}

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
      throw this.redactError(caller, server, toRpcError(e));
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
        return this.list(caller, session, req.method);
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

  /** Should a log message of `level` reach a session that asked for `min`? */
  static logPasses(level: unknown, min: string | null): boolean {
    if (!min) return true;
    const l = LOG_LEVELS.indexOf(String(level));
    return l === -1 || l >= LOG_LEVELS.indexOf(min);
  }

  private serversInScope(caller: Caller): SnapshotServer[] {
    if (!caller.scope) return caller.snapshot.servers;
    const s = caller.snapshot.servers.find((x) => x.slug === caller.scope);
    return s ? [s] : [];
  }

  private async list(caller: Caller, session: SessionState, method: ListMethod): Promise<Record<string, unknown>> {
    const field = LIST_KEY[method];
    const servers = this.serversInScope(caller);
    const results = await Promise.all(
      servers.map(async (server) => {
        try {
          // Catalogues are cached raw and shared; each caller gets them through its redactor.
          const redact = this.redactor(caller, server);
          return { server, items: (await this.upstreamList(caller, session, server, method)).map((item) => redact(item)) };
        } catch (e) {
          // One broken upstream must not take the aggregated endpoint down; a single-server
          // endpoint has nothing else to show, so the agent gets the error.
          if (caller.scope) throw e;
          return { server, items: [] as Record<string, unknown>[] };
        }
      }),
    );
    const out: Record<string, unknown>[] = [];
    const named = !caller.scope && (method === 'tools/list' || method === 'prompts/list');
    for (const { server, items } of results) {
      for (const item of named ? unambiguous(server.slug, items) : items) {
        const shown = this.present(caller, server, method, item);
        if (shown) out.push(shown);
      }
    }
    return { [field]: out };
  }

  /** Filter one catalogue item by policy and namespace it for the aggregated endpoint. */
  private present(caller: Caller, server: SnapshotServer, method: ListMethod, item: Record<string, unknown>) {
    const { snapshot, principal, scope } = caller;
    if (method === 'tools/list' || method === 'prompts/list') {
      const name = String(item.name);
      const kind: RequestKind = method === 'tools/list' ? 'tool' : 'prompt';
      if (!visible(snapshot, principal, kind, server.slug, name)) return null;
      return scope ? item : { ...item, name: exposedName(server.slug, name) };
    }
    if (method === 'resources/list') {
      const uri = String(item.uri);
      if (!visible(snapshot, principal, 'resource', server.slug, uri)) return null;
      return scope ? item : { ...item, uri: exposedUri(server.slug, uri) };
    }
    // Templates: listed when the policy could allow some URI of them (each read is decided).
    const template = String(item.uriTemplate);
    if (!templateVisible(snapshot, principal, server.slug, template)) return null;
    return scope ? item : { ...item, uriTemplate: exposedUri(server.slug, template) };
  }

  private async upstreamList(
    caller: Caller,
    session: SessionState,
    server: SnapshotServer,
    method: ListMethod,
  ): Promise<Record<string, unknown>[]> {
    const backend = this.backend(caller, session, server);
    const info = await backend.ready();
    if (!advertises(info.capabilities, method)) return [];
    const byMethod = this.lists.get(backend.key);
    const hit = byMethod?.get(method);
    if (hit && Date.now() - hit.at < LIST_TTL_MS) return hit.items;
    // An incomplete list (page cap, looping cursor) is served as far as it goes.
    const { items: all } = await listAll(backend, method, { sessionId: 'gateway' });
    const items = method === 'tools/list' ? withTaskSupport(info.capabilities, all) : all;
    const map = byMethod ?? new Map();
    map.set(method, { items, at: Date.now() });
    this.lists.set(backend.key, map);
    return items;
  }

  /** Resolve what a call names into the server and the upstream's own name. */
  private async resolve(
    caller: Caller,
    session: SessionState,
    kind: RequestKind,
    name: string,
    record: CallRecord,
  ): Promise<{ server: SnapshotServer; name: string }> {
    const { snapshot } = caller;
    const label = kind === 'resource' ? 'resource' : kind;
    if (caller.scope) {
      const server = snapshot.servers.find((s) => s.slug === caller.scope);
      if (!server) throw new RpcError(RpcCode.InvalidParams, `Unknown server: ${caller.scope}`);
      return { server, name };
    }
    if (kind === 'resource') {
      const parts = splitUri(name);
      const server = parts && snapshot.servers.find((s) => s.slug === parts.server);
      if (!parts || !server) throw new RpcError(RpcCode.ResourceNotFound, `Resource not found: ${name} (expected tg://{server}/{uri})`);
      return { server, name: parts.uri };
    }
    const parts = splitExposed(name);
    const server = parts && snapshot.servers.find((s) => s.slug === parts.server);
    if (!parts || !server) throw new RpcError(RpcCode.InvalidParams, `Unknown ${label}: ${name} (expected {server}__{name})`);
    if (exposedName(server.slug, parts.rest) === name) return { server, name: parts.rest };
    // A sanitised or hashed name: find the original in the server's catalogue. Should that fail,
    // the record names the server, so its error is redacted with the server's secrets.
    record.server = server;
    const items = await this.upstreamList(caller, session, server, kind === 'tool' ? 'tools/list' : 'prompts/list');
    const match = findExposed(server.slug, items, name);
    if (!match) throw new RpcError(RpcCode.InvalidParams, `Unknown ${label}: ${name}`);
    return { server, name: String(match.name) };
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
    const { server, name } = await this.resolve(caller, session, kind, named, record);
    record.server = server;
    record.target = name;
    const redact = this.redactor(caller, server);
    record.arguments = args;

    authorize(caller, { kind, server: server.slug, name, arguments: args as Record<string, unknown> | undefined }, record);

    if (kind === 'tool') {
      const limits = rateLimitsFor(caller.snapshot, caller.principal, server.slug, name);
      if (limits.length > 0) {
        const rate = await this.deps.limiter.check(caller.snapshot.orgId, limits);
        if (!rate.allowed) {
          const retryAfterSeconds = Math.max(1, Math.ceil(rate.retryAfterMs / 1000));
          record.decision = 'rate_limited';
          record.outcome = 'denied';
          record.error = `rate limit ${rate.bucket}`;
          throw new RpcError(RpcCode.RateLimited, `Rate limit exceeded; retry in ${retryAfterSeconds}s`, {
            retryAfterSeconds,
            bucket: rate.bucket,
          });
        }
      }
    }

    if (method === 'resources/subscribe' && (session.subscriptions?.length ?? 0) >= MAX_SUBSCRIPTIONS) {
      // The list lives in the session state (Redis): keep it bounded.
      if (!session.subscriptions!.includes(exposedUri(server.slug, name))) {
        throw new RpcError(RpcCode.InvalidRequest, `A session may subscribe to at most ${MAX_SUBSCRIPTIONS} resources`);
      }
    }

    await enforceQuota(this.deps.quota, caller.snapshot, method, record);

    const upstreamParams = { ...params, [field]: name };
    const asTask = kind === 'tool' && params.task !== undefined ? this.backend(caller, session, server) : null;
    if (asTask) await this.deps.tasks.assertAugmentable(asTask, name, session);
    const forwarded = this.keepsUpstreamSubscription(caller, session, server, method, name)
      ? {}
      : await this.forward(caller, session, server, method, upstreamParams, channel, signal, record);
    if (method === 'resources/subscribe') this.subscriptionHolders.hold(this.backend(caller, session, server).key, name, session.id);
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
    return !this.subscriptionHolders.release(this.backend(caller, session, server).key, uri, session.id);
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
    const { server, name } = await this.resolve(caller, session, kind, named, record);
    record.server = server;
    record.target = name;
    // Completing arguments is decided like the prompts/get or resources/read it prepares.
    authorize(caller, { kind, server: server.slug, name }, record);
    const upstream = { ...params, ref: kind === 'prompt' ? { ...ref, name } : { ...ref, uri: name } };
    return this.redactor(
      caller,
      server,
    )(await this.forward(caller, session, server, 'completion/complete', upstream, channel, signal, record));
  }

  private async forward(
    caller: Caller,
    session: SessionState,
    server: SnapshotServer,
    method: string,
    params: Record<string, unknown>,
    channel: AgentChannel,
    signal: AbortSignal,
    record: CallRecord,
  ): Promise<Record<string, unknown>> {
    const backend = this.backend(caller, session, server);
    const ctx = this.callContext(caller, session, server, backend.key, channel, signal);
    try {
      await backend.ready();
      return await backend.request(method, params, ctx);
    } catch (e) {
      const err = toRpcError(e);
      // A call the agent cancelled failed on the agent's side: the upstream did nothing wrong
      // (the backend reports it as a failure to reach the upstream, kind 'unavailable').
      record.outcome = signal.aborted
        ? 'error'
        : e instanceof BackendError && e.kind === 'timeout'
          ? 'timeout'
          : e instanceof BackendError && e.kind !== 'upstream'
            ? 'upstream_error'
            : 'error';
      // Raw here: emit() redacts the record, handle() the error the agent gets.
      record.error = err.message;
      throw err;
    }
  }

  /** What the upstream says besides a result leaves through the result's filter; a task's status goes to its owner alone. */
  private callContext(
    caller: Caller,
    session: SessionState,
    server: SnapshotServer,
    backendKey: string,
    channel: AgentChannel,
    signal: AbortSignal,
  ): CallContext {
    const redact = this.redactor(caller, server);
    return {
      sessionId: session.id,
      signal,
      onNotification: (n) => {
        if (n.method === TASK_STATUS) return void this.deps.tasks.onStatus(backendKey, redact(n)).catch(() => undefined);
        if (n.method === 'notifications/message' && !McpCore.logPasses(n.params?.level, session.logLevel)) return;
        channel.notify(redact(n));
      },
      onServerRequest: (r) => this.relayServerRequest(session, redact(r), channel, signal),
    };
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
      redact: (s) => this.redactor(caller, s),
      context: (s, key, ch) => this.callContext(caller, session, s, key, ch, signal),
    });
    return caller.scope ? result : exposeResultUris(server.slug, result);
  }

  /** Sampling, elicitation and roots requests go to the agent only if it declared the capability. */
  private relayServerRequest(session: SessionState, r: JsonRpcRequest, channel: AgentChannel, signal?: AbortSignal) {
    const caps = session.clientCapabilities;
    const needs =
      r.method === 'sampling/createMessage'
        ? 'sampling'
        : r.method === 'elicitation/create'
          ? 'elicitation'
          : r.method === 'roots/list'
            ? 'roots'
            : null;
    if (needs && !caps[needs]) {
      return Promise.reject(new RpcError(RpcCode.MethodNotFound, `The agent does not support ${r.method}`));
    }
    return channel.request(r.method, r.params, signal);
  }

  // ---- backends, secrets, redaction ----------------------------------------------------------

  private specFor(snapshot: PolicySnapshot, server: SnapshotServer): OpenedSpec {
    let bySnapshot = this.specs.get(snapshot);
    if (!bySnapshot) {
      bySnapshot = new Map();
      this.specs.set(snapshot, bySnapshot);
    }
    let entry = bySnapshot.get(server.id);
    if (!entry) {
      entry = openBackendSpec(this.deps.secretKey, snapshot.orgId, server, snapshot.secrets);
      bySnapshot.set(server.id, entry);
    }
    return entry;
  }

  /** The configuration keys a snapshot wants (the pool closes the backends of the others, whoever owns them). */
  backendKeys(snapshot: PolicySnapshot): string[] {
    return snapshot.servers.map((s) => {
      try {
        return this.specFor(snapshot, s).spec.key;
      } catch {
        return '';
      }
    });
  }

  /** The backend that serves this caller's session for `server`: shared, its key's or its session's own. */
  private backend(caller: Caller, session: SessionState, server: SnapshotServer): Backend {
    const { snapshot } = caller;
    const opened = this.specFor(snapshot, server);
    const backend = this.deps.pool.get(ownedSpec(opened.spec, { keyId: caller.key.id, sessionId: session.id }));
    if (!this.watched.has(backend.key)) {
      this.watched.add(backend.key);
      // Notifications outside any call may go to many sessions: the secrets injected into this
      // backend (fixed by its key) are scrubbed here, each listener's role patterns on delivery
      // (outOfCallRedactor). An isolated backend speaks only to its owner.
      const scrub = makeRedactor(opened.secrets, []);
      const isolation = effectiveIsolation(server);
      const audience: Audience =
        isolation === 'per-key' ? { keyId: caller.key.id } : isolation === 'per-session' ? { sessionId: session.id } : null;
      backend.onUnsolicited((n: JsonRpcNotification) => {
        if (n.method === TASK_STATUS) return void this.deps.tasks.onStatus(backend.key, scrub(n)).catch(() => undefined);
        for (const m of LIST_CHANGED[n.method] ?? []) this.lists.get(backend.key)?.delete(m);
        this.deps.onUpstreamNotification?.(snapshot.orgId, server.slug, scrub(n), audience);
      });
      // A per-session backend's requests outside any call (roots/list on its standalone stream)
      // can only be its session's; shared and per-key ones cannot be attributed and stay refused.
      const channel = isolation === 'per-session' ? this.deps.sessionChannel?.(session.id) : undefined;
      if (channel)
        backend.onOutOfCallRequest?.((r) => this.outOfCallRequest(snapshot.orgId, caller.key.id, server.slug, session, scrub(r), channel));
    }
    return backend;
  }

  /**
   * A per-session backend's request outside any call goes to its session's agent like its
   * notifications do: only while the key's roles, as the current snapshot has them, still see the
   * server, and through those roles' redaction.
   */
  private outOfCallRequest(
    orgId: string,
    keyId: string,
    serverSlug: string,
    session: SessionState,
    r: JsonRpcRequest,
    channel: AgentChannel,
  ): Promise<Record<string, unknown>> {
    const snapshot = this.deps.currentSnapshot(orgId);
    const key = snapshot?.keys.find((k) => k.id === keyId);
    if (!snapshot || !key || !seesServer(snapshot, { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata }, serverSlug)) {
      return Promise.reject(new RpcError(RpcCode.InternalError, 'no agent session is waiting for this request'));
    }
    return this.relayServerRequest(session, this.outOfCallRedactor(snapshot, key)(r), channel);
  }

  /** An agent session ended: close the backends it owned (per-session servers) on this worker. */
  endSession(sessionId: string): void {
    this.subscriptionHolders.forgetSession(sessionId);
    const suffix = sessionKeySuffix(sessionId);
    this.deps.pool.retireWhere((k) => k.endsWith(suffix));
  }

  /** Does this worker run a backend owned by the session? */
  ownsSessionBackends(sessionId: string): boolean {
    const suffix = sessionKeySuffix(sessionId);
    return this.deps.pool.has((k) => k.endsWith(suffix));
  }

  /** Forget per-backend state of backends the pool closed. */
  forgetBackend(key: string): void {
    this.watched.delete(key);
    this.lists.delete(key);
    this.subscriptionHolders.forgetBackend(key);
  }

  /**
   * The redactor for what the caller gets from `server`: its injected secrets, then the caller's
   * role patterns. Without a server (nothing was forwarded), the role patterns alone.
   */
  private redactor(caller: Caller, server: SnapshotServer | null): Redactor {
    return this.redactorOf(caller.snapshot, caller.key, server);
  }

  /**
   * What a session of `key` hears outside any call (notifications, a per-session backend's
   * requests) passes that key's role patterns: the backend's secrets are already scrubbed, but
   * each listener's roles redact differently.
   */
  outOfCallRedactor(snapshot: PolicySnapshot, key: SnapshotKey): Redactor {
    return this.redactorOf(snapshot, key, null);
  }

  private redactorOf(snapshot: PolicySnapshot, key: SnapshotKey, server: SnapshotServer | null): Redactor {
    let bySnapshot = this.redactors.get(snapshot);
    if (!bySnapshot) {
      bySnapshot = new Map();
      this.redactors.set(snapshot, bySnapshot);
    }
    const k = `${server?.id ?? ''}|${key.roleIds.join(',')}`;
    let r = bySnapshot.get(k);
    if (!r) {
      const secrets = server ? this.specFor(snapshot, server).secrets : [];
      // Patterns depend on the roles alone (redactionPatternsFor reads nothing else of the principal).
      r = makeRedactor(secrets, redactionPatternsFor(snapshot, { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata }));
      bySnapshot.set(k, r);
    }
    return r;
  }

  /** redactor() for paths that must not fail: errors and audit events. */
  private safeRedactor(caller: Caller, server: SnapshotServer | null): Redactor {
    try {
      return this.redactor(caller, server);
    } catch {
      // The server's secrets do not open (misconfigured): no backend of it runs, none can leak.
      return this.redactor(caller, null);
    }
  }

  /** An error on its way to the agent, message and data through the caller's redactor. */
  private redactError(caller: Caller, server: SnapshotServer | null, err: RpcError): RpcError {
    const redact = this.safeRedactor(caller, server);
    const message = redact(err.message);
    const data = redact(err.data);
    return message === err.message && data === err.data ? err : new RpcError(err.code, message, data);
  }

  // ---- events --------------------------------------------------------------------------------

  /** Emit the audit and usage events of one finished request (never blocks); `ip` for requests with no caller (failed authentication). */
  emit(
    caller: Caller | null,
    orgId: string,
    session: Pick<SessionState, 'id' | 'clientInfo'> | null,
    rec: CallRecord,
    bytesIn: number,
    bytesOut: number,
    ip: string | null = caller?.ip ?? null,
  ): void {
    const at = new Date().toISOString();
    const latencyMs = Math.round((performance.now() - rec.startedAt) * 1000) / 1000;
    // The audit chain can never be amended: what goes in passes the same redaction as responses.
    const redact: Redactor = caller ? this.safeRedactor(caller, rec.server) : (v) => v;
    const audit: AuditEvent = {
      schemaVersion: 1,
      id: uuidv7(),
      orgId,
      keyId: caller?.key.id ?? null,
      serverId: rec.server?.id ?? null,
      serverSlug: rec.server?.slug ?? null,
      method: rec.method,
      target: rec.target,
      arguments: redact(rec.arguments),
      decision: rec.decision,
      rule: rec.rule,
      outcome: rec.outcome,
      error: rec.error === null ? null : redact(rec.error),
      latencyMs,
      bytesIn,
      bytesOut,
      clientName: session?.clientInfo?.name ?? null,
      clientVersion: session?.clientInfo?.version ?? null,
      sessionId: session?.id ?? null,
      ip,
      at,
    };
    this.deps.events.emit(audit, {
      schemaVersion: 1,
      id: audit.id,
      orgId,
      keyId: audit.keyId,
      serverId: audit.serverId,
      target: audit.target,
      method: audit.method,
      decision: audit.decision,
      outcome: audit.outcome,
      durationMs: latencyMs,
      bytesIn,
      bytesOut,
      at,
    });
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

/** decide() for one request; a denial is recorded and thrown as -32003 with its rule and reason. */
function authorize(caller: Caller, request: PolicyRequest, record: CallRecord): void {
  const decision = decide(caller.snapshot, caller.principal, request);
  record.rule = decision.rule ? ruleLabel(decision.rule) : null;
  if (decision.allowed) return;
  record.decision = 'deny';
  record.outcome = 'denied';
  record.error = decision.reason;
  throw new RpcError(RpcCode.Denied, `Denied by policy: ${decision.reason}`, { rule: record.rule, reason: decision.reason });
}

export function newRecord(method: string): CallRecord {
  return {
    method,
    server: null,
    target: null,
    arguments: undefined,
    decision: 'allow',
    rule: null,
    outcome: 'ok',
    error: null,
    startedAt: performance.now(),
  };
}

export function toRpcError(e: unknown): RpcError {
  if (e instanceof RpcError) return e;
  if (e instanceof BackendError) return new RpcError(e.error.code, e.error.message, e.error.data);
  return new RpcError(RpcCode.InternalError, 'Internal gateway error');
}
