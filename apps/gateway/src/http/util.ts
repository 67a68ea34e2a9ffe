import type { IncomingMessage, ServerResponse } from 'node:http';
import { failure, type JsonRpcError, type JsonRpcId, jsonText } from '../core/jsonrpc';

export class BodyTooLarge extends Error {}

/** Read the whole body up to `limit` bytes; stops reading (and rejects) past it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new BodyTooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
  const payload = jsonText(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
  return payload.length;
}

/** A transport-level failure answered as a JSON-RPC error with the right HTTP status. */
export function sendRpcError(
  res: ServerResponse,
  status: number,
  id: JsonRpcId | null,
  error: JsonRpcError,
  headers: Record<string, string> = {},
): number {
  return sendJson(res, status, failure(id, error), headers);
}

/** Accept must allow both JSON and SSE for POST (Streamable HTTP). */
export function acceptsMcp(accept: string | undefined): boolean {
  if (!accept) return false;
  const a = accept.toLowerCase();
  if (a.includes('*/*')) return true;
  return a.includes('application/json') && a.includes('text/event-stream');
}

export function isJsonContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const base = ct.split(';', 1)[0]!.trim().toLowerCase();
  return base === 'application/json' || base.endsWith('+json');
}

/** Host names of loopback origins, as WHATWG URL spells them (IPv6 in brackets). */
const LOOPBACK_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Is this socket address a loopback one (127.0.0.0/8, ::1, or IPv4-mapped 127.x)? */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * DNS-rebinding protection (MCP 2025-11-25: an invalid Origin gets 403). Requests without an
 * Origin (non-browser clients) pass. A browser Origin must be one of `allowed` (the configured
 * origins and the gateway's own public origin), or a loopback origin on a request that reached
 * the gateway over loopback. The request's Host header proves nothing: under DNS rebinding the
 * attacker's page sends its own name as both Host and Origin, so "Origin matches Host" would
 * let it in.
 */
export function originAllowed(origin: string | undefined, allowed: ReadonlySet<string>, viaLoopback: boolean): boolean {
  if (!origin) return true;
  if (allowed.has(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (allowed.has(url.origin)) return true;
  return viaLoopback && LOOPBACK_HOSTNAMES.has(url.hostname);
}

/** Normalised origins (scheme://host[:port]) of the given URLs or origins; unparsable entries are kept as they are. */
export function normalizeOrigins(entries: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const e of entries) {
    try {
      out.add(new URL(e).origin);
    } catch {
      out.add(e);
    }
  }
  return out;
}

export function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : null;
}
