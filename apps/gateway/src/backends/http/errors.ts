import { type JsonRpcError, RpcCode } from '../../core/jsonrpc';
import { BackendError } from '../types';
import { parseMessages } from './messages';

/** Socket / undici error codes → words for the agent-facing message. */
const TRANSPORT_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ECONNABORTED: 'connection aborted',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_DESTROYED: 'connection closed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'truncated response',
  HPE_INVALID_CONSTANT: 'invalid HTTP response',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted TLS certificate',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host',
  EUPSTREAMBLOCKED:
    'its address is private, loopback, link-local or this host’s own (an operator may allow the range with HTTP_UPSTREAM_ALLOW)',
};

export function unavailableError(label: string, what: string, data?: Record<string, unknown>): BackendError {
  return new BackendError(
    { code: RpcCode.UpstreamUnavailable, message: `Upstream ${label} is unavailable: ${what}`, data: { upstream: label, ...data } },
    'unavailable',
  );
}

export function timeoutError(label: string, timeoutMs: number): BackendError {
  return new BackendError(
    {
      code: RpcCode.UpstreamTimeout,
      message: `Upstream ${label} did not answer within ${timeoutMs} ms`,
      data: { upstream: label, timeoutMs },
    },
    'timeout',
  );
}

/** A failure to reach the upstream, as the BackendError to relay. Only the error code is told. */
export function transportError(label: string, error: unknown): BackendError {
  if (error instanceof BackendError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new BackendError(
      { code: RpcCode.UpstreamTimeout, message: `Upstream ${label} stopped answering`, data: { upstream: label, cause: code } },
      'timeout',
    );
  }
  if (typeof code === 'string') return unavailableError(label, TRANSPORT_FAILURES[code] ?? code, { cause: code });
  return unavailableError(label, 'request failed');
}

/** The JSON-RPC error object in `error`, or null when it is not a well-formed one. */
function asRpcError(error: unknown): JsonRpcError | null {
  const e = error as Partial<JsonRpcError> | null;
  if (!e || typeof e.code !== 'number' || !Number.isInteger(e.code) || typeof e.message !== 'string') return null;
  return e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data };
}

/**
 * A non-2xx answer: a JSON-RPC error in the body is relayed as the upstream's answer; anything
 * else (HTML error pages, empty bodies, proxies in between) reads as the upstream being
 * unavailable, with the status.
 */
export function statusError(label: string, status: number, body: Buffer): BackendError {
  if (body.length > 0 && body.length <= 1024 * 1024) {
    for (const message of parseMessages(body.toString('utf8')) ?? []) {
      const error = asRpcError((message as { error?: unknown }).error);
      if (error) return new BackendError(error, 'upstream');
    }
  }
  return unavailableError(label, `HTTP ${status}`, { status });
}
