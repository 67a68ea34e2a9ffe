import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRequest, RpcCode } from '../core/jsonrpc';
import type { Relay } from '../redis/relay';
import type { SessionState } from '../core/sessions';
import type { SnapshotSource } from '../core/ports';
import { KEEPALIVE_MS, SseStream } from './sse';
import type { TransportParts } from './streamable';
import { sendRpcError } from './util';

export interface LegacySseDeps extends TransportParts {
  snapshots: SnapshotSource;
  relay: Relay;
}

/**
 * The deprecated HTTP+SSE transport (2024-11-05): `GET /sse/{org}[/{server}]` opens the
 * session's stream and names where to POST; `POST /messages?sessionId=` is answered 202 and every
 * answer goes out on that stream, through the relay, whichever worker holds it.
 */
export class LegacySse {
  constructor(private readonly d: LegacySseDeps) {}

  /** GET /sse/{org}[/{server}]: opens the stream and announces where to POST. */
  async stream(req: IncomingMessage, res: ServerResponse, org: string, server: string | null): Promise<void> {
    if (!this.d.checks.checkOrigin(req, res)) return;
    const caller = await this.d.auth.authenticate(req, res, org, server, 'sse');
    if (!caller) return;
    const session = await this.d.setup.openLegacy(res, caller);
    if (!session) return;
    const stream = new SseStream(res, {}, { keepAliveMs: KEEPALIVE_MS });
    stream.send(`/messages?sessionId=${session.id}`, 'endpoint');
    const unregister = this.d.streams.register(session, caller, stream);
    stream.onClose(() => {
      unregister();
      void this.d.sessions.delete(session.id).catch(() => undefined);
      this.d.core.endSession(session.id);
    });
  }

  /** POST /messages?sessionId=…: the answer goes out on the session's SSE stream. */
  async message(req: IncomingMessage, res: ServerResponse, sessionId: string | null): Promise<void> {
    const { checks } = this.d;
    if (!checks.checkOrigin(req, res)) return;
    if (!sessionId) {
      sendRpcError(res, 400, null, { code: RpcCode.InvalidRequest, message: 'sessionId query parameter is required' });
      return;
    }
    let session: SessionState | null = null;
    try {
      session = await this.d.sessions.get(sessionId);
    } catch {
      sendRpcError(res, 503, null, { code: RpcCode.InternalError, message: 'Session store unavailable' }, { 'Retry-After': '1' });
      return;
    }
    if (!session) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: 'Session not found' });
      return;
    }
    const snapshot = this.d.snapshots.get(session.orgId) ?? (await this.d.snapshots.reload(session.orgId));
    if (!snapshot) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: 'Session not found' });
      return;
    }
    const caller = await this.d.auth.authenticate(req, res, snapshot.orgSlug, session.server, 'sse');
    if (!caller) return;
    if (caller.key.id !== session.keyId) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: 'Session not found' });
      return;
    }
    const body = await checks.readMessages(req, res);
    if (!body) return;
    const msg = checks.validate(res, body.raw);
    if (!msg) return;
    res.writeHead(202).end();
    const s = session;
    const push = (m: unknown) => this.d.relay.push(s.id, m);
    if (!isRequest(msg)) {
      this.d.calls.accept(s, msg);
      return;
    }
    if (msg.method === 'initialize') {
      await this.d.setup.initializeLegacy(caller, s, msg, body.bytes, push);
      return;
    }
    const response = await this.d.calls.execute(caller, s, msg, this.d.calls.channel(s.id, push), body.bytes);
    if (response) push(response);
  }
}
