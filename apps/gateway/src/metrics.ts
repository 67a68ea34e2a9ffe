import type { ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RpcCode } from './core/jsonrpc';

/** The gateway's Prometheus metrics (one registry per gateway instance). */
export function createGatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'toolgate_gateway_' });
  return {
    registry,
    requests: new Counter({
      name: 'toolgate_gateway_requests_total',
      help: 'MCP requests by org, method and outcome',
      labelNames: ['org', 'method', 'outcome'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'toolgate_gateway_request_duration_seconds',
      help: 'Time to answer an MCP request (gateway + upstream)',
      labelNames: ['method'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      registers: [registry],
    }),
    backends: new Gauge({
      name: 'toolgate_gateway_backends',
      help: 'Upstream connections by transport and health (up, down, circuit-open, starting)',
      labelNames: ['transport', 'health'] as const,
      registers: [registry],
    }),
    eventsBuffered: new Gauge({
      name: 'toolgate_gateway_events_buffered',
      help: 'Audit/usage events in memory: waiting to be sent or being sent',
      registers: [registry],
    }),
    spoolEvents: new Gauge({
      name: 'toolgate_gateway_spool_events',
      help: 'Events spooled to disk while Redis is unreachable',
      registers: [registry],
    }),
    spoolBytes: new Gauge({ name: 'toolgate_gateway_spool_bytes', help: 'Size of the local event spool', registers: [registry] }),
    snapshots: new Gauge({ name: 'toolgate_gateway_snapshots_loaded', help: 'Org snapshots held in memory', registers: [registry] }),
    stdioEvents: new Counter({
      name: 'toolgate_gateway_stdio_events_total',
      help: 'stdio server lifecycle: start, restart, exit, crash, limit (memory/CPU/file size/line), sandbox_failure',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    probes: new Counter({
      name: 'toolgate_gateway_probes_total',
      help: 'Probe requests taken by this worker: result, error, expired (dropped past their deadline), malformed',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'toolgate_gateway_auth_failures_total',
      help: 'Requests refused 401 at the gateway: missing (no bearer token), invalid (unknown or revoked key, bad or other-org access token), expired (key or token), audience (token for another endpoint), revoked (token of a revoked OAuth grant)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    streams: new Gauge({ name: 'toolgate_gateway_open_streams', help: 'Open agent SSE streams on this worker', registers: [registry] }),
    sessions: new Gauge({
      name: 'toolgate_gateway_open_sessions',
      help: 'Agent sessions active within their TTL across the fleet (from Redis; every worker reports the same)',
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'toolgate_gateway_requests_in_flight',
      help: 'MCP requests being executed on this worker',
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'toolgate_gateway_rate_limit_hits_total',
      help: 'Calls refused by a rate limit, by the bucket scope that refused (key, tool, org, ip) and org',
      labelNames: ['org', 'scope'] as const,
      registers: [registry],
    }),
    httpResponses: new Counter({
      name: 'toolgate_gateway_http_responses_total',
      help: 'HTTP responses by status class (1xx … 5xx), counted when sent',
      labelNames: ['class'] as const,
      registers: [registry],
    }),
    rpcErrors: new Counter({
      name: 'toolgate_gateway_rpc_errors_total',
      help: 'JSON-RPC errors answered to agent requests, by code (the standard and gateway codes; other for codes relayed from upstreams)',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    breakers: new Gauge({
      name: 'toolgate_gateway_circuit_breaker_state',
      help: 'Circuit breaker of each upstream held by this worker: 0 closed, 1 half-open, 2 open',
      labelNames: ['org', 'server'] as const,
      registers: [registry],
    }),
  };
}
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

const KNOWN_CODES = new Set<number>(Object.values(RpcCode));

/** The label of an error code: a closed set, so an upstream cannot grow the series. */
export function rpcErrorLabel(code: number): string {
  return KNOWN_CODES.has(code) ? String(code) : 'other';
}

/** Counts each response by status class once it is sent; the children are made once, not per response. */
export function responseCounter(metrics: GatewayMetrics): (this: ServerResponse) => void {
  const classes = [1, 2, 3, 4, 5].map((c) => metrics.httpResponses.labels(`${c}xx`));
  return function count(this: ServerResponse) {
    classes[Math.trunc(this.statusCode / 100) - 1]?.inc();
  };
}

const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/** At scrape time: one series per upstream this worker holds, labelled by org slug (the id when no snapshot names it) and server slug. */
export function setCircuitGauge(
  metrics: GatewayMetrics,
  circuits: Array<{ orgId: string; server: string; state: keyof typeof CIRCUIT_VALUE }>,
  orgSlug: (orgId: string) => string | undefined,
): void {
  metrics.breakers.reset();
  for (const c of circuits) metrics.breakers.set({ org: orgSlug(c.orgId) ?? c.orgId, server: c.server }, CIRCUIT_VALUE[c.state]);
}
