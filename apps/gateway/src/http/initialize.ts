import type { ServerResponse } from 'node:http';
import { type JsonRpcRequest, RpcCode } from '../core/jsonrpc';
import { type McpCore } from '../core/mcp';
import { type Caller } from '../core/caller';
import type { SessionState } from '../core/sessions';
import type { SessionStorePort } from '../core/ports';
import { SessionStore } from '../redis/sessions';
import type { Logger } from '../log';
import type { GatewayMetrics } from '../metrics';
import { logRequest } from './calls';
import { sessionStoreDown } from './request';
import { sendJson } from './util';

/**
 * Where sessions begin: a Streamable HTTP `initialize` creates the session in Redis and answers
 * with its Mcp-Session-Id; a legacy SSE stream creates its session when it opens (2024-11-05)
 * and the `initialize` POSTed to it later fills in what the client said.
 */
export class SessionSetup {
  constructor(
    private readonly core: McpCore,
    private readonly sessions: SessionStorePort,
    private readonly metrics: GatewayMetrics,
    private readonly requestLog: Logger,
  ) {}

  /** Streamable HTTP initialize: a new session, answered as plain JSON with its id. */
  async initialize(res: ServerResponse, caller: Caller, msg: JsonRpcRequest, bytesIn: number): Promise<void> {
    const started = performance.now();
    const p = msg.params ?? {};
    const info = p.clientInfo as { name?: unknown; version?: unknown } | undefined;
    const protocolVersion = this.core.negotiate(p.protocolVersion);
    const session = newSession(
      caller,
      protocolVersion,
      info && typeof info.name === 'string' ? { name: info.name.slice(0, 200), version: String(info.version ?? '').slice(0, 100) } : null,
      typeof p.capabilities === 'object' && p.capabilities !== null ? (p.capabilities as Record<string, unknown>) : {},
    );
    try {
      await this.sessions.create(session);
    } catch {
      sessionStoreDown(res, msg.id);
      logRequest(this.requestLog, caller, null, 'initialize', 'error', RpcCode.InternalError, (performance.now() - started) / 1000);
      return;
    }
    sendJson(res, 200, await this.core.initialized(caller, session, msg, bytesIn), { 'Mcp-Session-Id': session.id });
    this.metrics.requests.inc({ org: caller.snapshot.orgSlug, method: 'initialize', outcome: 'ok' });
    logRequest(this.requestLog, caller, session.id, 'initialize', 'ok', undefined, (performance.now() - started) / 1000);
  }

  /** A legacy SSE stream's session, created as the stream opens; null (503 sent) when Redis is away. */
  async openLegacy(res: ServerResponse, caller: Caller): Promise<SessionState | null> {
    const session = newSession(caller, '2024-11-05', null, {});
    try {
      await this.sessions.create(session);
    } catch {
      sessionStoreDown(res, null);
      return null;
    }
    return session;
  }

  /** The legacy `initialize`: the session exists already; its answer goes out on the stream (`push`). */
  async initializeLegacy(caller: Caller, s: SessionState, msg: JsonRpcRequest, bytesIn: number, push: (m: unknown) => void): Promise<void> {
    const started = performance.now();
    const p = msg.params ?? {};
    const info = p.clientInfo as { name?: unknown; version?: unknown } | undefined;
    s.protocolVersion = this.core.negotiate(p.protocolVersion);
    s.clientInfo = info && typeof info.name === 'string' ? { name: info.name, version: String(info.version ?? '') } : null;
    s.clientCapabilities = (p.capabilities as Record<string, unknown>) ?? {};
    await this.sessions.update(s).catch(() => undefined);
    push(await this.core.initialized(caller, s, msg, bytesIn));
    logRequest(this.requestLog, caller, s.id, 'initialize', 'ok', undefined, (performance.now() - started) / 1000);
  }
}

function newSession(
  caller: Caller,
  protocolVersion: string,
  clientInfo: SessionState['clientInfo'],
  clientCapabilities: Record<string, unknown>,
): SessionState {
  return {
    id: SessionStore.newId(),
    orgId: caller.snapshot.orgId,
    keyId: caller.key.id,
    server: caller.scope,
    protocolVersion,
    clientInfo,
    clientCapabilities,
    logLevel: null,
    createdAt: Date.now(),
  };
}
