import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { securityTxt } from '@toolgate/contracts';
import type { ClientIpResolver } from './client-ip';

export interface EdgeOptions {
  /** Normalised browser origins that get CORS headers (the same list passes the Origin check). */
  corsOrigins: ReadonlySet<string>;
  hsts: 'auto' | 'on' | 'off';
  hstsMaxAgeSeconds: number;
  /** Believes `X-Forwarded-Proto` only from trusted proxies, as for the client address. */
  clientIp: ClientIpResolver;
  securityContact: readonly string[];
  securityTxtExpires?: string;
  publicUrl: string;
}

/** Every response: an API that serves JSON and event streams, never a page to render or frame. */
const STATIC_HEADERS: ReadonlyArray<[string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Resource-Policy', 'cross-origin'],
];

const CORS_ALLOW_METHODS = 'GET, POST, DELETE';
const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID';
const CORS_EXPOSE_HEADERS = 'Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate, Retry-After';

/**
 * What the gateway says about itself on every response, before routing: security headers, HSTS,
 * CORS for configured origins, preflights and security.txt. Hand-written: a few setHeader calls
 * on the hot path instead of a middleware stack.
 */
export class Edge {
  private readonly hstsValue: string;

  constructor(private readonly opts: EdgeOptions) {
    this.hstsValue = `max-age=${opts.hstsMaxAgeSeconds}; includeSubDomains`;
  }

  /** Sets the headers every response carries (before anything else answers, a refusal included). */
  headers(req: IncomingMessage, res: ServerResponse): void {
    for (const [name, value] of STATIC_HEADERS) res.setHeader(name, value);
    if (this.overTls(req)) res.setHeader('Strict-Transport-Security', this.hstsValue);
    if (this.corsOrigin(req) !== null) {
      res.setHeader('Access-Control-Allow-Origin', req.headers.origin!);
      res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
    }
    res.setHeader('Vary', 'Origin');
  }

  /** Answers preflights and security.txt; false for every other request. */
  answer(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (req.method === 'OPTIONS') {
      this.preflight(res, this.corsOrigin(req) !== null);
      return true;
    }
    if (path === '/.well-known/security.txt' && (req.method === 'GET' || req.method === 'HEAD')) {
      this.securityTxt(res);
      return true;
    }
    return false;
  }

  /** 204 for any OPTIONS; the CORS grant only for a configured origin (others: the browser blocks). */
  private preflight(res: ServerResponse, granted: boolean): void {
    const headers: Record<string, string> = { Allow: `${CORS_ALLOW_METHODS}, OPTIONS`, 'Content-Length': '0' };
    if (granted) {
      headers['Access-Control-Allow-Methods'] = CORS_ALLOW_METHODS;
      headers['Access-Control-Allow-Headers'] = CORS_ALLOW_HEADERS;
      headers['Access-Control-Max-Age'] = '600';
    }
    res.writeHead(204, headers);
    res.end();
  }

  private securityTxt(res: ServerResponse): void {
    const body = securityTxt({
      contact: this.opts.securityContact,
      expires: this.opts.securityTxtExpires,
      canonical: `${this.opts.publicUrl}/.well-known/security.txt`,
    });
    if (body === null) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('No security contact is configured (SECURITY_CONTACT).\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'max-age=86400' });
    res.end(body);
  }

  /** The request's Origin when it is one of the configured browser origins. */
  private corsOrigin(req: IncomingMessage): string | null {
    const origin = req.headers.origin;
    return origin !== undefined && this.opts.corsOrigins.has(origin) ? origin : null;
  }

  private overTls(req: IncomingMessage): boolean {
    if (this.opts.hsts !== 'auto') return this.opts.hsts === 'on';
    if ((req.socket as TLSSocket).encrypted) return true;
    const proto = req.headers['x-forwarded-proto'];
    if (typeof proto !== 'string' || proto.split(',')[0]!.trim().toLowerCase() !== 'https') return false;
    // Only a trusted proxy's word counts.
    return this.opts.clientIp.peerTrusted(req.socket.remoteAddress);
  }
}
