import { type JsonRpcError, RpcCode, RpcError } from '../../core/jsonrpc';
import { BackendError } from '../types';

/** A JSON-RPC code for calls the agent cancelled. Never sent to the agent (a cancelled request gets no response). */
export const REQUEST_CANCELLED_CODE = -32800;

/** The call was cancelled by ctx.signal; nothing should be answered to the agent for it. */
export class CallCancelledError extends BackendError {
  constructor(message: string) {
    super({ code: REQUEST_CANCELLED_CODE, message }, 'unavailable');
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An upstream's error object, made safe to relay (integer code, string message). */
export function normalizeError(raw: unknown): JsonRpcError {
  if (!isObject(raw)) return { code: RpcCode.InternalError, message: 'The upstream answered with a malformed error' };
  const code = typeof raw.code === 'number' && Number.isInteger(raw.code) ? raw.code : RpcCode.InternalError;
  const message = typeof raw.message === 'string' ? raw.message : 'The upstream answered with an error';
  return raw.data === undefined ? { code, message } : { code, message, data: raw.data };
}

/** What an agent-side failure to answer an upstream request becomes on the wire towards the upstream. */
export function toJsonRpcError(e: unknown): JsonRpcError {
  if (e instanceof RpcError) return e.toJSON();
  if (e instanceof BackendError) return e.error;
  return { code: RpcCode.InternalError, message: e instanceof Error ? e.message : 'The agent could not answer the request' };
}

export function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === 'string' && r.length > 0) return r;
  if (r instanceof Error && r.message && r.name !== 'AbortError') return r.message;
  return 'cancelled by the agent';
}
