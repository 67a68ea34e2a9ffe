import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { RpcCode } from '../core/jsonrpc';
import { type GatewayMetrics, responseCounter } from '../metrics';
import { HttpDrain } from './drain';
import { ConnectionCaps, type ConnectionCapsOptions } from './connection-caps';
import { Edge, type EdgeOptions } from './edge';
import { MCP_SCOPE } from './authenticate';
import { endpointResource } from './oauth-token';
import type { McpTransport } from './transport';
import { sendJson, sendRpcError } from './util';

export interface HttpDeps {
  transport: McpTransport;
  publicUrl: string;
  authorizationServer: string;
  ready: () => Promise<{ ok: boolean; checks: Record<string, boolean>; detail?: Record<string, unknown> }>;
  /** Component detail for operators (`/health`): always 200 while the worker lives; the body says how things are. */
  health: () => Record<string, unknown>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** Where responses are counted by status class (metrics.ts); none: not counted. */
  counters?: GatewayMetrics;
  /** Security headers, CORS, security.txt (http/edge.ts) and connection caps (http/connection-caps.ts). */
  edge: { edge: EdgeOptions; caps: ConnectionCapsOptions };
}

const SLUG = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
const MCP_PATH = new RegExp(`^/mcp/(${SLUG})(?:/(${SLUG}))?/?$`);
const SSE_PATH = new RegExp(`^/sse/(${SLUG})(?:/(${SLUG}))?/?$`);
const PRM_PATH = new RegExp(`^/\\.well-known/oauth-protected-resource/(mcp|sse)/(${SLUG})(?:/(${SLUG}))?/?$`);

/**
 * The gateway's HTTP front: routing only. Every failure is a JSON(-RPC) error with the right
 * status; an unexpected exception is logged and answered 500 without taking the process down.
 * While draining (shutdown), agent requests are refused and /readyz answers 503 (drain.ts).
 */
export function createHttpServer(deps: HttpDeps): { server: Server; drain: HttpDrain } {
  const { transport } = deps;
  let drain: HttpDrain | null = null;
  const edge = new Edge(deps.edge.edge);
  const caps = new ConnectionCaps(deps.edge.caps);
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const q = req.url?.indexOf('?') ?? -1;
    const path = q === -1 ? (req.url ?? '/') : req.url!.slice(0, q);
    const method = req.method ?? 'GET';
    edge.headers(req, res);
    if (caps.refuse(req.socket, res) || edge.answer(req, res, path)) return;

    let m = MCP_PATH.exec(path);
    if (drain?.isDraining && (m || SSE_PATH.test(path) || path === '/messages')) {
      drain.refuse(res);
      return;
    }
    if (m) {
      const org = m[1]!;
      const server = m[2] ?? null;
      if (method === 'POST') return transport.streamable.post(req, res, org, server);
      if (method === 'GET') return transport.streamable.get(req, res, org, server);
      if (method === 'DELETE') return transport.streamable.delete(req, res, org, server);
      sendRpcError(
        res,
        405,
        null,
        { code: RpcCode.InvalidRequest, message: `${method} is not allowed here` },
        { Allow: 'GET, POST, DELETE' },
      );
      return;
    }
    m = SSE_PATH.exec(path);
    if (m && method === 'GET') return transport.legacy.stream(req, res, m[1]!, m[2] ?? null);
    if (path === '/messages' && method === 'POST') {
      const sessionId = new URLSearchParams(q === -1 ? '' : req.url!.slice(q + 1)).get('sessionId');
      return transport.legacy.message(req, res, sessionId);
    }
    m = PRM_PATH.exec(path);
    if (m && method === 'GET') {
      // RFC 9728 protected-resource metadata, per endpoint (clients try this path-inserted form
      // first). `resource` is the canonical endpoint URL: clients ask the authorization server for
      // exactly it (RFC 8707), and the gateway accepts only tokens whose `aud` is it. There is no
      // root document on purpose: one resource for the whole host would get clients tokens that no
      // endpoint accepts.
      // The legacy SSE endpoint has its own document: clients check that `resource` is a prefix of
      // the URL they connect to; the authorization server binds its tokens to the /mcp twin.
      const [kind, org, server] = [m[1] as 'mcp' | 'sse', m[2]!, m[3] ?? null];
      sendJson(
        res,
        200,
        {
          resource: endpointResource(deps.publicUrl, org, server, kind),
          authorization_servers: [deps.authorizationServer],
          scopes_supported: [MCP_SCOPE],
          bearer_methods_supported: ['header'],
          resource_name: `Toolgate MCP endpoint for ${org}${server ? `/${server}` : ''}${kind === 'sse' ? ' (legacy SSE)' : ''}`,
          resource_documentation: `${deps.authorizationServer}/docs`,
        },
        // Public and credential-free: browser-based clients of any origin may read it (a configured origin already has its own).
        res.hasHeader('Access-Control-Allow-Origin') ? {} : { 'Access-Control-Allow-Origin': '*' },
      );
      return;
    }
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/health') {
      sendJson(res, 200, deps.health());
      return;
    }
    if (path === '/readyz') {
      if (drain?.isDraining) {
        sendJson(res, 503, { status: 'draining' });
        return;
      }
      const r = await deps.ready();
      sendJson(res, r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not_ready', checks: r.checks, ...r.detail });
      return;
    }
    if (path === '/metrics') {
      const { contentType, body } = await deps.metrics();
      res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
      res.end(body);
      return;
    }
    sendJson(res, 404, { error: 'not_found', message: `No route for ${method} ${path}` });
  };

  const countResponse = deps.counters ? responseCounter(deps.counters) : null;
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 30_000 }, (req, res) => {
    if (countResponse) res.once('finish', countResponse);
    route(req, res).catch((e: unknown) => {
      console.error('gateway: unhandled error', e);
      if (!res.headersSent) sendRpcError(res, 500, null, { code: RpcCode.InternalError, message: 'Internal gateway error' });
      else res.destroy();
    });
  });
  caps.attach(server);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  drain = new HttpDrain(server);
  return { server, drain };
}
