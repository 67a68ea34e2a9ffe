/**
 * JSON-RPC 2.0 framing for MCP. Lean on purpose: this runs for every message on the hot path,
 * so it validates shape by hand instead of through a schema library.
 */
export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}
export interface JsonRpcSuccess {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: Record<string, unknown>;
}
export interface JsonRpcFailure {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: JsonRpcError;
}
export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** Standard codes, plus the gateway's own (documented in the README). */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** MCP: resource not found. */
  ResourceNotFound: -32002,
  /** Gateway: the caller's policy refuses this call (data.rule names the rule). */
  Denied: -32003,
  /** Gateway: a rate limit was hit (data.retryAfterSeconds). */
  RateLimited: -32004,
  /** Gateway: the upstream server is unavailable (down, circuit open, crashed). */
  UpstreamUnavailable: -32005,
  /** Gateway: the upstream did not answer in time. */
  UpstreamTimeout: -32006,
  /** Gateway: the org's monthly call quota is used up. */
  QuotaExceeded: -32007,
  /** Gateway: the call's record could not be written (this worker's disk is full or too slow); data.ran says whether the call ran. */
  Unrecorded: -32008,
  /** Gateway: authentication failed (sent only where HTTP status cannot say it, e.g. WebSocket). */
  Unauthorized: -32001,
} as const;

/** An error that becomes a JSON-RPC error response (never a crash). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
  toJSON(): JsonRpcError {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export const isRequest = (m: JsonRpcMessage): m is JsonRpcRequest => 'method' in m && 'id' in m && m.id !== undefined;
export const isNotification = (m: JsonRpcMessage): m is JsonRpcNotification => 'method' in m && !('id' in m);
export const isResponse = (m: JsonRpcMessage): m is JsonRpcResponse => !('method' in m) && ('result' in m || 'error' in m);

export const success = (id: JsonRpcId, result: Record<string, unknown>): JsonRpcSuccess => ({ jsonrpc: '2.0', id, result });
export const failure = (id: JsonRpcId | null, error: JsonRpcError): JsonRpcFailure => ({ jsonrpc: '2.0', id, error });

export interface FrameLimits {
  maxDepth: number;
  maxStringLength: number;
  maxMethodLength: number;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Depth and string-length limits, checked without recursion blowing the stack. */
function checkLimits(value: unknown, limits: FrameLimits): string | null {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.length > limits.maxStringLength) return `a string is longer than ${limits.maxStringLength} characters`;
    } else if (typeof v === 'object' && v !== null) {
      if (depth > limits.maxDepth) return `the message is nested deeper than ${limits.maxDepth} levels`;
      if (Array.isArray(v)) for (const x of v) stack.push([x, depth + 1]);
      else
        for (const k in v) {
          if (k.length > limits.maxStringLength) return `a key is longer than ${limits.maxStringLength} characters`;
          stack.push([(v as Record<string, unknown>)[k], depth + 1]);
        }
    }
  }
  return null;
}

/**
 * Validate one parsed JSON value as a JSON-RPC 2.0 message. Throws RpcError(-32600) with the id
 * when one can be recovered, so the error response can still be correlated.
 */
export function validateMessage(raw: unknown, limits: FrameLimits): JsonRpcMessage {
  if (!isPlainObject(raw)) throw new RpcError(RpcCode.InvalidRequest, 'A JSON-RPC message must be an object');
  const id = raw.id;
  const idOk = id === undefined || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
  if (raw.jsonrpc !== '2.0') throw new RpcError(RpcCode.InvalidRequest, 'jsonrpc must be "2.0"');
  if (!idOk) throw new RpcError(RpcCode.InvalidRequest, 'id must be a string or a number');
  const problem = checkLimits(raw, limits);
  if (problem) throw new RpcError(RpcCode.InvalidRequest, `Message too large: ${problem}`);
  if ('method' in raw) {
    if (typeof raw.method !== 'string' || raw.method.length === 0 || raw.method.length > limits.maxMethodLength) {
      throw new RpcError(RpcCode.InvalidRequest, 'method must be a non-empty string');
    }
    if (raw.params !== undefined && !isPlainObject(raw.params)) {
      throw new RpcError(RpcCode.InvalidParams, 'params must be an object');
    }
    return raw as unknown as JsonRpcRequest | JsonRpcNotification;
  }
  if (id === undefined) throw new RpcError(RpcCode.InvalidRequest, 'A response must carry an id');
  if ('result' in raw === 'error' in raw) throw new RpcError(RpcCode.InvalidRequest, 'A response needs exactly one of result and error');
  if ('result' in raw && !isPlainObject(raw.result)) throw new RpcError(RpcCode.InvalidRequest, 'result must be an object');
  if ('error' in raw) {
    const e = raw.error;
    if (!isPlainObject(e) || typeof e.code !== 'number' || typeof e.message !== 'string') {
      throw new RpcError(RpcCode.InvalidRequest, 'error must have a numeric code and a message');
    }
  }
  return raw as unknown as JsonRpcResponse;
}

/** Recover an id from something that failed validation, if it has a usable one. */
export function salvageId(raw: unknown): JsonRpcId | null {
  if (!isPlainObject(raw)) return null;
  const id = raw.id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
}

/**
 * JSON text of response objects that were already serialised once: the core measures each
 * response for the audit record, and the transport (sendJson, SseStream) reuses that text
 * instead of serialising a (possibly large) tool result a second time. Entries live as long as
 * the response object they belong to.
 */
const serialized = new WeakMap<object, string>();

/** JSON.stringify(value), remembered for `value`, which must not be modified afterwards. */
export function serializeOnce(value: object): string {
  let json = serialized.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    serialized.set(value, json);
  }
  return json;
}

/** The JSON text of `value`: the remembered one if serializeOnce() saw it, else a fresh one. */
export function jsonText(value: unknown): string {
  return (typeof value === 'object' && value !== null && serialized.get(value)) || JSON.stringify(value);
}
