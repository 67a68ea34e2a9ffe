import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  failure,
  type FrameLimits,
  isRequest,
  type JsonRpcId,
  type JsonRpcMessage,
  RpcCode,
  salvageId,
  validateMessage,
} from '../core/jsonrpc';
import { type Caller } from '../core/caller';
import { toRpcError } from '../core/call-record';
import type { SessionState } from '../core/sessions';
import type { SessionStorePort } from '../core/ports';
import { versionRefusal } from './protocol-version';
import {
  BodyTooLarge,
  isJsonContentType,
  isLoopbackAddress,
  normalizeOrigins,
  originAllowed,
  readBody,
  sendJson,
  sendRpcError,
} from './util';

export interface RequestChecksOptions {
  publicUrl: string;
  maxBodyBytes: number;
  limits: FrameLimits;
  /** Browser origins allowed besides the public URL's own and, on loopback connections, loopback ones. */
  allowedOrigins: ReadonlySet<string>;
}

/** Strict UTF-8 (invalid bytes throw). Stateless between decode() calls, so one serves every request. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The checks an agent's HTTP request passes before its message reaches the core, shared by
 * Streamable HTTP and legacy SSE: Origin, body (Content-Type, size, UTF-8, JSON), message shape,
 * and the session it names. Each answers the failure itself and returns false or null.
 */
export class RequestChecks {
  /** Browser origins allowed besides loopback ones: the configured ones and the gateway's public origin. */
  private readonly origins: ReadonlySet<string>;

  constructor(
    private readonly sessions: SessionStorePort,
    private readonly opts: RequestChecksOptions,
  ) {
    this.origins = normalizeOrigins([...opts.allowedOrigins, opts.publicUrl]);
  }

  checkOrigin(req: IncomingMessage, res: ServerResponse): boolean {
    if (originAllowed(req.headers.origin, this.origins, isLoopbackAddress(req.socket.localAddress))) return true;
    sendRpcError(res, 403, null, { code: RpcCode.InvalidRequest, message: `Origin not allowed: ${req.headers.origin}` });
    return false;
  }

  /** Read and parse a JSON-RPC body; on failure the error response has been sent. */
  async readMessages(req: IncomingMessage, res: ServerResponse): Promise<{ raw: unknown; bytes: number } | null> {
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

  /** One JSON-RPC message (framing limits, shape); an invalid one is answered 400 with the id it salvaged. */
  validate(res: ServerResponse, raw: unknown): JsonRpcMessage | null {
    try {
      return validateMessage(raw, this.opts.limits);
    } catch (e) {
      sendJson(res, 400, failure(salvageId(raw), toRpcError(e).toJSON()));
      return null;
    }
  }

  /** The session the request names, if it is the caller's (same org, key and endpoint) and the protocol version fits. */
  async loadSession(
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
      sessionStoreDown(res, null);
      return null;
    }
    // Another key's (or org's, or endpoint's) session is indistinguishable from no session.
    if (!session || session.orgId !== caller.snapshot.orgId || session.keyId !== caller.key.id || session.server !== caller.scope) {
      sendRpcError(res, 404, null, { code: RpcCode.InvalidRequest, message: 'Session not found; initialize a new session' });
      return null;
    }
    return session;
  }
}

/**
 * Redis, which holds the sessions, is away and this worker cannot confirm the session (or keep
 * more new ones): 503 with Retry-After, never 404, which would make the client drop a session
 * that may be alive on another worker and in Redis once it returns.
 */
export function sessionStoreDown(res: ServerResponse, id: JsonRpcId | null): void {
  sendRpcError(
    res,
    503,
    id,
    { code: RpcCode.InternalError, message: 'Session store unavailable: this worker cannot confirm the session right now; retry shortly' },
    { 'Retry-After': '2' },
  );
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
