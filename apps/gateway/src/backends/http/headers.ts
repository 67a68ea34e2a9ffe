/** Never sent from configuration: hop-by-hop headers (RFC 9110 §7.6.1) and framing. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);
/** Set by the transport itself on every request. */
const TRANSPORT_OWNED = new Set(['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id']);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const BAD_HEADER_VALUE = /[\r\n\0]/;

/**
 * The configured headers to send upstream (secret values already opened by the caller), names
 * lower-cased. Hop-by-hop and transport-owned headers are dropped (also any a configured
 * `Connection` header names). A configured `Authorization` is the upstream's own credential and
 * is kept; the agent's credential never reaches this point. Throws on a malformed name or a
 * value with a line break (header injection).
 */
export function upstreamHeaders(configured: Record<string, string>): Record<string, string> {
  const listedByConnection = new Set<string>();
  for (const [name, value] of Object.entries(configured)) {
    if (name.toLowerCase() === 'connection') for (const token of value.split(',')) listedByConnection.add(token.trim().toLowerCase());
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(configured)) {
    const lower = name.trim().toLowerCase();
    if (!HEADER_NAME.test(lower)) throw new Error(`invalid header name "${name}"`);
    if (typeof value !== 'string' || BAD_HEADER_VALUE.test(value)) throw new Error(`header "${name}" has an invalid value`);
    if (HOP_BY_HOP.has(lower) || TRANSPORT_OWNED.has(lower) || listedByConnection.has(lower)) continue;
    out[lower] = value;
  }
  return out;
}
