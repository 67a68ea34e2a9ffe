import type { IncomingMessage, ServerResponse } from 'node:http';
import { type PolicySnapshot, type SnapshotKey, sha256Hex } from '@toolgate/contracts';
import { type CidrBlock, checkKey, findKeyByHash, seesServer } from '@toolgate/policy';
import {
  failure,
  isNotification,
  isRequest,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  RpcCode,
  RpcError,
  salvageId,
  success,
  validateMessage,
  type FrameLimits,
} from '../core/jsonrpc';
import { type AgentChannel, type Audience, type Caller, McpCore, newRecord, REQUEST_METHODS, toRpcError } from '../core/mcp';
import { exposedUri } from '../core/naming';
import { AgentCancelled, type Relay } from '../core/relay';
import { type SessionState, SessionStore } from '../core/sessions';
import type { SnapshotStore } from '../snapshots/store';
import type { GatewayMetrics } from '../metrics';
import { AuthFailureLog, type AuthFailureReason } from './auth-failures';
import { ClientIpResolver } from './client-ip';
import type { SseEventLog } from './event-log';
import { OpenStreams, type StreamOwner } from './open-streams';
import { versionRefusal } from './protocol-version';
import { resumeStream } from './resume';
import { SseStream } from './sse';
import {
  acceptsMcp,
  BodyTooLarge,
  bearer,
  isJsonContentType,
  isLoopbackAddress,
  normalizeOrigins,
  originAllowed,
  readBody,
  sendJson,
  sendRpcError,
  serializeOnce,
} from './util';

export interface TransportOptions {
  publicUrl: string;
  maxBodyBytes: number;
  limits: FrameLimits;
  /** Browser origins allowed besides the public URL's own and, on loopback connections, loopback ones. */
  allowedOrigins: ReadonlySet<string>;
  /** How long the gateway waits for an agent to answer a sampling/elicitation request. */
  agentRequestTimeoutMs: number;
  /** Proxies whose X-Forwarded-For / Forwarded name the client (see client-ip.ts). */
  trustedProxies: readonly CidrBlock[];
  /** Audit records of failed authentications per org and client address per minute. */
  authFailureAuditPerMinute: number;
  /** Where GET and call streams record their events for Last-Event-ID resumption. */
  eventLog: SseEventLog;
}

const KEEPALIVE_MS = 25_000;
/** Strict UTF-8 (invalid bytes throw). Stateless between decode() calls, so one serves every request. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The agent-facing transports: Streamable HTTP (`/mcp/{org}[/{server}]`: POST, GET, DELETE) and
 * the deprecated HTTP+SSE pair (`/sse/{org}[/{server}]` + `/messages`). Both authenticate the
 * key against the org snapshot, keep session state in Redis, and hand each message to McpCore.
 */
export class McpTransport {
  /** Open GET and legacy SSE streams on this worker (notification fan-out, revocation). */
  private readonly streams = new OpenStreams();
  /** Browser origins allowed besides loopback ones: the configured ones and the gateway's public origin. */
  private readonly origins: ReadonlySet<string>;
  private readonly clientIp: ClientIpResolver;
  private readonly authFailures: AuthFailureLog;

  constructor(
    private readonly core: McpCore,
    private readonly snapshots: SnapshotStore,
    private readonly sessions: SessionStore,
    private readonly relay: Relay,
    private readonly metrics: GatewayMetrics,
    private readonly opts: TransportOptions,
  ) {
    this.origins = normalizeOrigins([...opts.allowedOrigins, opts.publicUrl]);
    this.clientIp = new ClientIpResolver(opts.trustedProxies);
    this.authFailures = new AuthFailureLog({
      count: (reason) => metrics.authFailures.inc({ reason }),
      emit: (orgId, rec, ip) => core.emit(null, orgId, null, rec, 0, 0, ip),
      perMinute: opts.authFailureAuditPerMinute,
    });
  }

  // ---- shared: authentication ------------------------------------------------------------------

  resourceMetadataUrl(org: string, server: string | null): string {
    return `${this.opts.publicUrl}/.well-known/oauth-protected-resource/mcp/${org}${server ? `/${server}` : ''}`;
  }

  /** Resolve org, key and scope; on failure the response has been sent and null is returned. */
  private async authenticate(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<Caller | null> {
    const challenge = (error?: string) => ({
      'WWW-Authenticate': `Bearer resource_metadata="${this.resourceMetadataUrl(org, server)}"${error ? `, error="${error}"` : ''}`,
    });
    const token = bearer(req);
    const ip = this.clientIp.resolve(req.socket.remoteAddress, req.headers);
    if (!token) {
      this.authFailures.record(null, 'missing', null, ip, server);
      sendRpcError(res, 401, null, { code: RpcCode.Unauthorized, message: 'Authorization: Bearer <agent key> is required' }, challenge());
      return null;
    }
    const snapshot = await this.snapshots.bySlug(org);
    if (!snapshot) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: `Unknown organization: ${org}` });
      return null;
    }
    const failed = (reason: AuthFailureReason) => this.authFailures.record(snapshot, reason, token, ip, server);
    const key = token.startsWith('tg_') ? findKeyByHash(snapshot, sha256Hex(token)) : null;
    if (!key) {
      failed('invalid');
      sendRpcError(
        res,
        401,
        null,
        { code: RpcCode.Unauthorized, message: 'The agent key is invalid or revoked' },
        challenge('invalid_token'),
      );
      return null;
    }
    if (checkKey(key) === 'expired') {
      failed('expired');
      sendRpcError(res, 401, null, { code: RpcCode.Unauthorized, message: 'The agent key has expired' }, challenge('invalid_token'));
      return null;
    }
    if (server && !snapshot.servers.some((s) => s.slug === server)) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: `Unknown server: ${server}` });
      return null;
    }
    return { snapshot, key, principal: { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata, ip }, ip, scope: server };
  }

  private checkOrigin(req: IncomingMessage, res: ServerResponse): boolean {
    if (originAllowed(req.headers.origin, this.origins, isLoopbackAddress(req.socket.localAddress))) return true;
    sendRpcError(res, 403, null, { code: RpcCode.InvalidRequest, message: `Origin not allowed: ${req.headers.origin}` });
    return false;
  }

  /** Read and parse a JSON-RPC body; on failure the error response has been sent. */
  private async readMessages(req: IncomingMessage, res: ServerResponse): Promise<{ raw: unknown; bytes: number } | null> {
    if (!isJsonContentType(req.headers['content-type'])) {
      sendRpcError(res, 415, null, { code: RpcCode.InvalidRequest, message: 'Content-Type must be application/json' });
      return null;
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.opts.maxBodyBytes);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        sendRpcError(
          res,
          413,
          null,
          { code: RpcCode.InvalidRequest, message: `The body exceeds ${this.opts.maxBodyBytes} bytes` },
          { Connection: 'close' },
        );
      } else {
        sendRpcError(res, 400, null, { code: RpcCode.ParseError, message: 'Could not read the request body' });
      }
      return null;
    }
    let text: string;
    try {
      text = UTF8.decode(body);
    } catch {
      sendRpcError(res, 400, null, { code: RpcCode.ParseError, message: 'The body is not valid UTF-8' });
      return null;
    }
    try {
      return { raw: JSON.parse(text), bytes: body.length };
    } catch {
      sendRpcError(res, 400, null, { code: RpcCode.ParseError, message: 'Parse error: the body is not valid JSON' });
      return null;
    }
  }

  private async loadSession(
    req: IncomingMessage,
    res: ServerResponse,
    caller: Caller,
    id: string | undefined,
    msg: JsonRpcMessage | null = null,
  ): Promise<SessionState | null> {
    const refusal = versionRefusal(req.headers['mcp-protocol-version'], id ? null : msg);
    if (refusal) {
      sendRpcError(res, 400, msg && isRequest(msg) ? msg.id : null, refusal);
      return null;
    }
    if (!id) {
      sendRpcError(res, 400, null, { code: RpcCode.InvalidRequest, message: 'Mcp-Session-Id header is required (initialize first)' });
      return null;
    }
    let session: SessionState | null;
    try {
      session = await this.sessions.get(id);
    } catch {
      sendRpcError(
        res,
        503,
        null,
        { code: RpcCode.InternalError, message: 'Session store unavailable; retry shortly' },
        { 'Retry-After': '1' },
      );
      return null;
    }
    // Another key's (or org's, or endpoint's) session is indistinguishable from no session.
    if (!session || session.orgId !== caller.snapshot.orgId || session.keyId !== caller.key.id || session.server !== caller.scope) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: 'Session not found; initialize a new session' });
      return null;
    }
    return session;
  }

  // ---- Streamable HTTP ---------------------------------------------------------------------------

  async post(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<void> {
    if (!this.checkOrigin(req, res)) return;
    if (!acceptsMcp(req.headers.accept)) {
      sendRpcError(res, 406, null, { code: RpcCode.InvalidRequest, message: 'Accept must include application/json and text/event-stream' });
      return;
    }
    const caller = await this.authenticate(req, res, org, server);
    if (!caller) return;
    const body = await this.readMessages(req, res);
    if (!body) return;

    if (Array.isArray(body.raw)) {
      await this.postBatch(req, res, caller, body.raw, body.bytes);
      return;
    }
    let msg: JsonRpcMessage;
    try {
      msg = validateMessage(body.raw, this.opts.limits);
    } catch (e) {
      sendJson(res, 400, failure(salvageId(body.raw), toRpcError(e).toJSON()));
      return;
    }

    if (isRequest(msg) && msg.method === 'initialize') {
      await this.initialize(res, caller, msg, body.bytes);
      return;
    }
    const session = await this.loadSession(req, res, caller, header(req, 'mcp-session-id'), msg);
    if (!session) return;

    if (!isRequest(msg)) {
      this.accept(session, msg);
      res.writeHead(202).end();
      return;
    }
    await this.serveRequest(res, caller, session, msg, body.bytes);
  }

  /** JSON-RPC batches exist only in 2025-03-26; later revisions removed them. */
  private async postBatch(req: IncomingMessage, res: ServerResponse, caller: Caller, raw: unknown[], bytes: number): Promise<void> {
    if (raw.length === 0) {
      sendJson(res, 400, failure(null, { code: RpcCode.InvalidRequest, message: 'An empty batch is invalid' }));
      return;
    }
    const session = await this.loadSession(req, res, caller, header(req, 'mcp-session-id'));
    if (!session) return;
    if (session.protocolVersion !== '2025-03-26') {
      sendJson(
        res,
        400,
        failure(null, {
          code: RpcCode.InvalidRequest,
          message: `JSON-RPC batches are not supported in protocol ${session.protocolVersion}`,
        }),
      );
      return;
    }
    const out: JsonRpcResponse[] = [];
    for (const item of raw) {
      let msg: JsonRpcMessage;
      try {
        msg = validateMessage(item, this.opts.limits);
      } catch (e) {
        out.push(failure(salvageId(item), toRpcError(e).toJSON()));
        continue;
      }
      if (!isRequest(msg)) {
        this.accept(session, msg);
        continue;
      }
      const response = await this.execute(caller, session, msg, noChannel, Math.round(bytes / raw.length));
      if (response) out.push(response);
    }
    if (out.length === 0) res.writeHead(202).end();
    else sendJson(res, 200, out);
  }

  private async initialize(res: ServerResponse, caller: Caller, msg: JsonRpcRequest, bytesIn: number): Promise<void> {
    const rec = newRecord('initialize');
    const p = msg.params ?? {};
    const info = p.clientInfo as { name?: unknown; version?: unknown } | undefined;
    const protocolVersion = this.core.negotiate(p.protocolVersion);
    const session: SessionState = {
      id: SessionStore.newId(),
      orgId: caller.snapshot.orgId,
      keyId: caller.key.id,
      server: caller.scope,
      protocolVersion,
      clientInfo:
        info && typeof info.name === 'string' ? { name: info.name.slice(0, 200), version: String(info.version ?? '').slice(0, 100) } : null,
      clientCapabilities: typeof p.capabilities === 'object' && p.capabilities !== null ? (p.capabilities as Record<string, unknown>) : {},
      logLevel: null,
      createdAt: Date.now(),
    };
    try {
      await this.sessions.create(session);
    } catch {
      sendRpcError(
        res,
        503,
        msg.id,
        { code: RpcCode.InternalError, message: 'Session store unavailable; retry shortly' },
        { 'Retry-After': '1' },
      );
      return;
    }
    const bytesOut = sendJson(res, 200, success(msg.id, this.core.initializeResult(caller, protocolVersion)), {
      'Mcp-Session-Id': session.id,
    });
    this.core.emit(caller, caller.snapshot.orgId, session, rec, bytesIn, bytesOut);
    this.metrics.requests.inc({ org: caller.snapshot.orgSlug, method: 'initialize', outcome: 'ok' });
  }

  /** Notifications and responses from the agent. */
  private accept(session: SessionState, msg: JsonRpcNotification | JsonRpcResponse): void {
    if (isResponse(msg)) {
      this.relay.agentResponse(session.id, msg);
      return;
    }
    if (isNotification(msg) && msg.method === 'notifications/cancelled') {
      const requestId = msg.params?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') {
        this.relay.cancel(session.id, requestId, typeof msg.params?.reason === 'string' ? msg.params.reason : undefined);
      }
    }
    // notifications/initialized, roots/list_changed, progress: nothing to do for a shared backend.
  }

  /**
   * Serve a request. The answer is plain JSON unless the upstream sends something first
   * (progress, logging, a sampling request): then the response turns into an SSE stream.
   */
  private async serveRequest(
    res: ServerResponse,
    caller: Caller,
    session: SessionState,
    msg: JsonRpcRequest,
    bytesIn: number,
  ): Promise<void> {
    let stream: SseStream | null = null;
    const open = () =>
      (stream ??= new SseStream(
        res,
        { 'Mcp-Session-Id': session.id },
        { record: (id) => this.opts.eventLog.recorder(session.id, id, 'call') },
      ));
    let disconnected = false;
    res.on('close', () => {
      if (!res.writableFinished) disconnected = true;
    });
    const channel: AgentChannel = {
      notify: (n) => open().send(n),
      request: (method, params, signal) => {
        const { id, result } = this.relay.newRequest(session.id, this.opts.agentRequestTimeoutMs);
        signal?.addEventListener('abort', () => this.relay.cancelRequest(id, 'the call was cancelled'), { once: true });
        open().send({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
        return result;
      },
    };
    const response = await this.execute(caller, session, msg, channel, bytesIn, () => disconnected);
    const s = stream as SseStream | null;
    if (!response) {
      // Cancelled: the POST still needs an answer, so its stream (opened now if need be) ends empty.
      open().endUnanswered();
    } else if (s) s.sendLast(response);
    else if (!res.headersSent) {
      const headers: Record<string, string> = { 'Mcp-Session-Id': session.id };
      // A rate-limited call is a JSON-RPC error on HTTP 200: clients turn a 429 into a transport
      // error and lose the code (mcp-remote even reports it as -32001). Retry-After stays as a hint.
      if ('error' in response && response.error.code === RpcCode.RateLimited) {
        headers['Retry-After'] = String((response.error.data as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 1);
      }
      sendJson(res, 200, response, headers);
    }
  }

  /**
   * Run one request through the core, with cancellation, metrics and the audit record. Null when
   * the agent cancelled it: per MCP, a cancelled request gets no response.
   */
  private async execute(
    caller: Caller,
    session: SessionState,
    msg: JsonRpcRequest,
    channel: AgentChannel,
    bytesIn: number,
    disconnected: () => boolean = () => false,
  ): Promise<JsonRpcResponse | null> {
    const rec = newRecord(msg.method);
    if (!REQUEST_METHODS.has(msg.method)) {
      this.metrics.requests.inc({ org: caller.snapshot.orgSlug, method: 'unknown', outcome: 'error' });
      return failure(msg.id, { code: RpcCode.MethodNotFound, message: `Method not found: ${msg.method}` });
    }
    if (msg.method === 'initialize') {
      return failure(msg.id, { code: RpcCode.InvalidRequest, message: 'The session is already initialized' });
    }
    const controller = this.relay.track(session.id, msg.id);
    const end = this.metrics.latency.startTimer({ method: msg.method });
    let response: JsonRpcResponse;
    try {
      const { logLevel, subscriptions } = session;
      const result = await this.core.handle(caller, session, msg, channel, controller.signal, rec);
      if (session.logLevel !== logLevel || session.subscriptions !== subscriptions) {
        await this.sessions.update(session).catch(() => undefined);
      }
      response = success(msg.id, result);
    } catch (e) {
      const err = toRpcError(e);
      if (rec.outcome === 'ok') {
        rec.outcome = 'error';
        rec.error = err.message;
      }
      response = failure(msg.id, err.toJSON());
    } finally {
      this.relay.untrack(session.id, msg.id);
      end();
    }
    const cancelled = AgentCancelled.of(controller.signal);
    if (cancelled && rec.outcome === 'ok') {
      // It finished before the cancellation took hold; the agent still gets nothing for it.
      rec.outcome = 'error';
      rec.error = `The call was cancelled: ${(controller.signal.reason as AgentCancelled).message}`;
    }
    if (disconnected() && rec.outcome === 'ok') rec.outcome = 'error';
    this.metrics.requests.inc({ org: caller.snapshot.orgSlug, method: msg.method, outcome: rec.outcome });
    if (msg.method !== 'ping') {
      // Serialised once: sendJson / SseStream reuse this text when the response goes out.
      const bytesOut = cancelled ? 0 : serializeOnce(response).length;
      this.core.emit(caller, caller.snapshot.orgId, session, rec, bytesIn, bytesOut);
    }
    return cancelled ? null : response;
  }

  /** GET: a stream for notifications the upstreams send outside any call. */
  async get(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<void> {
    if (!this.checkOrigin(req, res)) return;
    if (!(req.headers.accept ?? '').includes('text/event-stream')) {
      sendRpcError(res, 406, null, { code: RpcCode.InvalidRequest, message: 'Accept must include text/event-stream' });
      return;
    }
    const caller = await this.authenticate(req, res, org, server);
    if (!caller) return;
    const session = await this.loadSession(req, res, caller, header(req, 'mcp-session-id'));
    if (!session) return;
    const headers = { 'Mcp-Session-Id': session.id };
    const live = (stream: SseStream) => stream.onClose(this.registerStream(session, caller, stream));
    const lastEventId = header(req, 'last-event-id');
    if (lastEventId !== undefined && (await this.resume(res, session.id, lastEventId, headers, live))) return;
    const log = this.opts.eventLog;
    live(new SseStream(res, headers, { keepAliveMs: KEEPALIVE_MS, record: (id) => log.recorder(session.id, id, 'get') }));
  }

  /**
   * Resume the stream a Last-Event-ID names (resume.ts); false when it names none of this
   * session's (expired, or another session's): the agent then gets a fresh GET stream, as the
   * SDK's own server does.
   */
  private async resume(
    res: ServerResponse,
    sessionId: string,
    lastEventId: string,
    headers: Record<string, string>,
    goLive: (stream: SseStream) => void,
  ): Promise<boolean> {
    let outcome: Awaited<ReturnType<typeof resumeStream>>;
    try {
      outcome = await resumeStream(this.opts.eventLog, { res, sessionId, lastEventId, headers, keepAliveMs: KEEPALIVE_MS, goLive });
    } catch {
      sendRpcError(
        res,
        503,
        null,
        { code: RpcCode.InternalError, message: 'Event store unavailable; retry shortly' },
        { 'Retry-After': '1' },
      );
      return true;
    }
    if (outcome === 'malformed') {
      sendRpcError(res, 400, null, { code: RpcCode.InvalidRequest, message: 'Last-Event-ID is not an event id of this server' });
      return true;
    }
    return outcome === 'resumed';
  }

  /**
   * The way to a session's agent outside any call: requests and notifications go out on its GET
   * (or legacy SSE) stream through the relay, whichever worker holds it, and its answer may be
   * POSTed to any worker. With no stream open anywhere the request waits out its timeout.
   */
  sessionChannel(sessionId: string): AgentChannel {
    return {
      notify: (n) => this.relay.push(sessionId, n),
      request: (method, params) => {
        const { id, result } = this.relay.newRequest(sessionId, this.opts.agentRequestTimeoutMs);
        this.relay.push(sessionId, { jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
        return result;
      },
    };
  }

  private registerStream(session: SessionState, caller: Caller, stream: SseStream): () => void {
    const forget = this.streams.add(session.orgId, session.id, session.server, caller.key, caller.ip, () => stream.end());
    const unpush = this.relay.registerPush(session.id, (m) => stream.send(m));
    return () => {
      unpush();
      forget();
    };
  }

  async delete(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<void> {
    if (!this.checkOrigin(req, res)) return;
    const caller = await this.authenticate(req, res, org, server);
    if (!caller) return;
    const session = await this.loadSession(req, res, caller, header(req, 'mcp-session-id'));
    if (!session) return;
    await this.sessions.delete(session.id).catch(() => undefined);
    // Its per-session backends end with it here; other workers close theirs on the relay notice.
    this.core.endSession(session.id);
    res.writeHead(204).end();
  }

  // ---- legacy HTTP+SSE (2024-11-05) -------------------------------------------------------------

  /** GET /sse/{org}[/{server}]: opens the stream and announces where to POST. */
  async legacyStream(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<void> {
    if (!this.checkOrigin(req, res)) return;
    const caller = await this.authenticate(req, res, org, server);
    if (!caller) return;
    const session: SessionState = {
      id: SessionStore.newId(),
      orgId: caller.snapshot.orgId,
      keyId: caller.key.id,
      server: caller.scope,
      protocolVersion: '2024-11-05',
      clientInfo: null,
      clientCapabilities: {},
      logLevel: null,
      createdAt: Date.now(),
    };
    try {
      await this.sessions.create(session);
    } catch {
      sendRpcError(
        res,
        503,
        null,
        { code: RpcCode.InternalError, message: 'Session store unavailable; retry shortly' },
        { 'Retry-After': '1' },
      );
      return;
    }
    const stream = new SseStream(res, {}, { keepAliveMs: KEEPALIVE_MS });
    stream.send(`/messages?sessionId=${session.id}`, 'endpoint');
    const unregister = this.registerStream(session, caller, stream);
    stream.onClose(() => {
      unregister();
      void this.sessions.delete(session.id).catch(() => undefined);
      this.core.endSession(session.id);
    });
  }

  /** POST /messages?sessionId=…: the answer goes out on the session's SSE stream. */
  async legacyMessage(req: IncomingMessage, res: ServerResponse, sessionId: string | null): Promise<void> {
    if (!this.checkOrigin(req, res)) return;
    if (!sessionId) {
      sendRpcError(res, 400, null, { code: RpcCode.InvalidRequest, message: 'sessionId query parameter is required' });
      return;
    }
    let session: SessionState | null = null;
    try {
      session = await this.sessions.get(sessionId);
    } catch {
      sendRpcError(res, 503, null, { code: RpcCode.InternalError, message: 'Session store unavailable' }, { 'Retry-After': '1' });
      return;
    }
    if (!session) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: 'Session not found' });
      return;
    }
    const snapshot = this.snapshots.get(session.orgId) ?? (await this.snapshots.reload(session.orgId));
    if (!snapshot) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: 'Session not found' });
      return;
    }
    const caller = await this.authenticate(req, res, snapshot.orgSlug, session.server);
    if (!caller) return;
    if (caller.key.id !== session.keyId) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: 'Session not found' });
      return;
    }
    const body = await this.readMessages(req, res);
    if (!body) return;
    let msg: JsonRpcMessage;
    try {
      msg = validateMessage(body.raw, this.opts.limits);
    } catch (e) {
      sendJson(res, 400, failure(salvageId(body.raw), toRpcError(e).toJSON()));
      return;
    }
    res.writeHead(202).end();
    const s = session;
    const push = (m: unknown) => this.relay.push(s.id, m);
    if (!isRequest(msg)) {
      this.accept(s, msg);
      return;
    }
    if (msg.method === 'initialize') {
      const p = msg.params ?? {};
      const info = p.clientInfo as { name?: unknown; version?: unknown } | undefined;
      s.protocolVersion = this.core.negotiate(p.protocolVersion);
      s.clientInfo = info && typeof info.name === 'string' ? { name: info.name, version: String(info.version ?? '') } : null;
      s.clientCapabilities = (p.capabilities as Record<string, unknown>) ?? {};
      await this.sessions.update(s).catch(() => undefined);
      push(success(msg.id, this.core.initializeResult(caller, s.protocolVersion)));
      this.core.emit(caller, caller.snapshot.orgId, s, newRecord('initialize'), body.bytes, 0);
      return;
    }
    const channel: AgentChannel = {
      notify: push,
      request: (method, params, signal) => {
        const { id, result } = this.relay.newRequest(s.id, this.opts.agentRequestTimeoutMs);
        signal?.addEventListener('abort', () => this.relay.cancelRequest(id, 'the call was cancelled'), { once: true });
        push({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
        return result;
      },
    };
    const response = await this.execute(caller, s, msg, channel, body.bytes);
    if (response) push(response);
  }

  /**
   * Fan an upstream's unsolicited notification (list_changed, resources/updated) out to this
   * worker's open streams of the org that may hear it, namespacing URIs for the aggregated
   * endpoint: only the owner's streams for an isolated backend (`audience`), any of the org's for
   * a shared one, and either way only sessions whose key, as the current snapshot has it, can see
   * that server.
   */
  broadcast(orgId: string, server: string, n: JsonRpcNotification, audience: Audience): void {
    const snapshot = this.snapshots.get(orgId);
    /** The key a stream listens with, as the snapshot has it now, if it may hear this; else null. */
    const listener = (sessionId: string, owner: StreamOwner): SnapshotKey | null => {
      const owns = audience === null || ('keyId' in audience ? owner.key.id === audience.keyId : sessionId === audience.sessionId);
      // Even an owner hears only while its roles still see the server (rules may change under the same role ids).
      const key = owns ? snapshot?.keys.find((k) => k.id === owner.key.id) : undefined;
      if (!snapshot || !key) return null;
      return seesServer(snapshot, { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata, ip: owner.ip }, server) ? key : null;
    };
    const uri = n.params?.uri;
    const aggregated = typeof uri === 'string' ? { ...n, params: { ...n.params, uri: exposedUri(server, uri) } } : n;
    // Two kinds depend on the session's state: resources/updated goes only to sessions that
    // subscribed to that resource (a subscription passed the policy check; other sessions, keys
    // and roles of the org must not learn of it), a log message only to sessions whose
    // logging/setLevel lets it through.
    const subscription = n.method === 'notifications/resources/updated' && typeof uri === 'string' ? exposedUri(server, uri) : null;
    const logLevel = n.method === 'notifications/message' ? n.params?.level : undefined;
    const wanted = (s: SessionState | null): boolean =>
      s !== null &&
      (subscription === null || (s.subscriptions?.includes(subscription) ?? false)) &&
      (logLevel === undefined || McpCore.logPasses(logLevel, s.logLevel));
    for (const [sessionId, owner] of this.streams.of(orgId)) {
      const scope = owner.scope;
      const key = scope === null || scope === server ? listener(sessionId, owner) : null;
      if (!snapshot || !key) continue;
      // Each listener hears it through its own roles' redaction.
      const message = this.core.outOfCallRedactor(snapshot, key)(scope === null ? aggregated : n);
      if (subscription === null && logLevel === undefined) this.relay.push(sessionId, message);
      else {
        this.sessions.get(sessionId).then(
          (s) => {
            if (wanted(s)) this.relay.push(sessionId, message);
          },
          () => undefined,
        );
      }
    }
  }

  /**
   * The org's policy or servers changed: what each of its sessions may list may have changed too.
   * Tell this worker's streams of the org (every worker hears of the snapshot itself), so agents
   * that cache their lists re-list instead of calling what they may no longer call.
   */
  listsChanged(orgId: string): void {
    for (const [sessionId] of this.streams.of(orgId)) {
      for (const method of LIST_CHANGED_NOTIFICATIONS) this.relay.push(sessionId, { jsonrpc: '2.0', method });
    }
  }

  /** The org's snapshot changed: streams of keys revoked, expired or given other roles end now. */
  snapshotChanged(orgId: string, next: PolicySnapshot | null): void {
    this.streams.snapshotChanged(orgId, next);
  }

  get openStreams(): number {
    return this.streams.size;
  }
}

/** An open stream's session: its endpoint's server (null = aggregated), its key and client ip. */
const LIST_CHANGED_NOTIFICATIONS = [
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
] as const;

/** Calls inside a batch cannot stream: server-to-client requests are refused. */
const noChannel: AgentChannel = {
  notify: () => undefined,
  request: () => Promise.reject(new RpcError(RpcCode.MethodNotFound, 'Server-to-client requests are not available inside a batch')),
};

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export type { JsonRpcId };
