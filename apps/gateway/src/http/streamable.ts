import type { IncomingMessage, ServerResponse } from 'node:http';
import { type FrameLimits, isRequest, type JsonRpcRequest, RpcCode } from '../core/jsonrpc';
import type { McpCore } from '../core/mcp';
import type { Caller } from '../core/caller';
import type { SessionState } from '../core/sessions';
import type { SessionStorePort, StreamEventLog } from '../core/ports';
import type { AgentStreams } from './agent-streams';
import type { Authenticator } from './authenticate';
import { postBatch } from './batch';
import type { CallRunner } from './calls';
import type { SessionSetup } from './initialize';
import { header, type RequestChecks } from './request';
import { resumeOrRefuse } from './resume';
import { KEEPALIVE_MS, SseStream } from './sse';
import { acceptsMcp, sendJson, sendRpcError } from './util';

/** What both agent transports (this one and legacy-sse.ts) are built from. */
export interface TransportParts {
  checks: RequestChecks;
  auth: Authenticator;
  calls: CallRunner;
  setup: SessionSetup;
  streams: AgentStreams;
  core: McpCore;
  sessions: SessionStorePort;
}

export interface StreamableDeps extends TransportParts {
  limits: FrameLimits;
  /** Where GET and call streams record their events for Last-Event-ID resumption. */
  eventLog: StreamEventLog;
}

/**
 * Streamable HTTP (`/mcp/{org}[/{server}]`): POST carries the agent's messages (a request's
 * answer is JSON, or an SSE stream once the upstream sends something first), GET opens the
 * session's stream for messages outside any call (or resumes one), DELETE ends the session.
 */
export class StreamableHttp {
  constructor(private readonly d: StreamableDeps) {}

  async post(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<void> {
    const { checks } = this.d;
    if (!checks.checkOrigin(req, res)) return;
    if (!acceptsMcp(req.headers.accept)) {
      sendRpcError(res, 406, null, { code: RpcCode.InvalidRequest, message: 'Accept must include application/json and text/event-stream' });
      return;
    }
    const caller = await this.d.auth.authenticate(req, res, org, server);
    if (!caller) return;
    const body = await checks.readMessages(req, res);
    if (!body) return;

    if (Array.isArray(body.raw)) {
      await postBatch(this.d, req, res, caller, body.raw, body.bytes);
      return;
    }
    const msg = checks.validate(res, body.raw);
    if (!msg) return;

    if (isRequest(msg) && msg.method === 'initialize') {
      await this.d.setup.initialize(res, caller, msg, body.bytes);
      return;
    }
    const session = await checks.loadSession(req, res, caller, header(req, 'mcp-session-id'), msg);
    if (!session) return;

    if (!isRequest(msg)) {
      this.d.calls.accept(session, msg);
      res.writeHead(202).end();
      return;
    }
    await this.serveRequest(res, caller, session, msg, body.bytes);
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
        { record: (id) => this.d.eventLog.recorder(session.id, id, 'call') },
      ));
    let disconnected = false;
    res.on('close', () => {
      if (!res.writableFinished) disconnected = true;
    });
    const channel = this.d.calls.channel(session.id, (m) => open().send(m));
    const response = await this.d.calls.execute(caller, session, msg, channel, bytesIn, () => disconnected);
    const s = stream as SseStream | null;
    if (!response) {
      // Cancelled: the POST still needs an answer, so its stream (opened now if need be) ends empty.
      open().endUnanswered();
    } else if (s) s.sendLast(response);
    else if (!res.headersSent) {
      const headers: Record<string, string> = { 'Mcp-Session-Id': session.id };
      // A rate-limited call is a JSON-RPC error on HTTP 200: clients turn a 429 into a transport
      // error and lose the code (mcp-remote even reports it as -32001). Retry-After stays as a hint.
      if ('error' in response && (response.error.code === RpcCode.RateLimited || response.error.code === RpcCode.Unrecorded)) {
        headers['Retry-After'] = String((response.error.data as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 1);
      }
      sendJson(res, 200, response, headers);
    }
  }

  /** GET: a stream for notifications the upstreams send outside any call. */
  async get(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<void> {
    const { checks } = this.d;
    if (!checks.checkOrigin(req, res)) return;
    if (!(req.headers.accept ?? '').includes('text/event-stream')) {
      sendRpcError(res, 406, null, { code: RpcCode.InvalidRequest, message: 'Accept must include text/event-stream' });
      return;
    }
    const caller = await this.d.auth.authenticate(req, res, org, server);
    if (!caller) return;
    const session = await checks.loadSession(req, res, caller, header(req, 'mcp-session-id'));
    if (!session) return;
    const headers = { 'Mcp-Session-Id': session.id };
    const live = (stream: SseStream) => stream.onClose(this.d.streams.register(session, caller, stream));
    const log = this.d.eventLog;
    const lastEventId = header(req, 'last-event-id');
    if (
      lastEventId !== undefined &&
      (await resumeOrRefuse(log, { res, sessionId: session.id, lastEventId, headers, keepAliveMs: KEEPALIVE_MS, goLive: live }))
    ) {
      return;
    }
    live(new SseStream(res, headers, { keepAliveMs: KEEPALIVE_MS, record: (id) => log.recorder(session.id, id, 'get') }));
  }

  async delete(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<void> {
    const { checks } = this.d;
    if (!checks.checkOrigin(req, res)) return;
    const caller = await this.d.auth.authenticate(req, res, org, server);
    if (!caller) return;
    const session = await checks.loadSession(req, res, caller, header(req, 'mcp-session-id'));
    if (!session) return;
    await this.d.sessions.delete(session.id).catch(() => undefined);
    // Its per-session backends end with it here; other workers close theirs on the relay notice.
    this.d.core.endSession(session.id);
    res.writeHead(204).end();
  }
}
