import type { IncomingHttpHeaders } from 'node:http';
import type { JsonRpcMessage } from '../../core/jsonrpc';

/** Parse a body or an SSE event's data into JSON-RPC messages (a batch array is flattened). */
export function parseMessages(text: string): JsonRpcMessage[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (Array.isArray(value)) return value.filter((m) => typeof m === 'object' && m !== null) as JsonRpcMessage[];
  return typeof value === 'object' && value !== null ? [value as JsonRpcMessage] : null;
}

export const isEventStream = (headers: IncomingHttpHeaders): boolean => {
  const type = headers['content-type'];
  return typeof type === 'string' && type.toLowerCase().startsWith('text/event-stream');
};
export const isJson = (headers: IncomingHttpHeaders): boolean => {
  const type = headers['content-type'];
  return typeof type === 'string' && type.toLowerCase().includes('json');
};
