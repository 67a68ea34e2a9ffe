import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The API's Prometheus registry (one per app instance, so tests can boot several). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'toolgate_api_' });
  return {
    registry,
    requests: new Counter({
      name: 'toolgate_api_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'toolgate_api_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    snapshotRepublishes: new Counter({
      name: 'toolgate_api_snapshot_republish_total',
      help: 'Full republishes of snapshots and tombstones after Redis lost its data, by outcome (done, failed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    snapshotRepairs: new Counter({
      name: 'toolgate_api_snapshot_repairs_total',
      help: 'Snapshots and tombstones the reconciler wrote back to Redis, by kind (snapshot, tombstone)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
  };
}
export type ApiMetrics = ReturnType<typeof createMetrics>;
export const METRICS = Symbol('METRICS');
