import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { QueueName } from '@toolgate/contracts';
import { type Api, createOrg, signup, startApi } from '../../../test/harness';
import { AuditProducer, auditEvent, queuePrefix } from '../audit/audit.test-fixtures';

/** A loopback port nothing listens on (taken, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('GET /health', () => {
  it('reports each component up with its latency and the event queues’ backlog (200)', async () => {
    const prefix = queuePrefix();
    const api: Api = await startApi({ QUEUE_PREFIX: prefix });
    const producer = new AuditProducer(prefix);
    try {
      const empty = await api.req().get('/health').expect(200);
      expect(empty.headers['cache-control']).toBe('no-store');
      expect(empty.body).toMatchObject({
        status: 'ok',
        components: {
          postgres: { up: true, latencyMs: expect.any(Number) },
          redis: { up: true, latencyMs: expect.any(Number) },
          queues: {
            up: true,
            [QueueName.Audit]: { waiting: 0, active: 0, delayed: 0, failed: 0 },
            [QueueName.Usage]: { waiting: 0, active: 0, delayed: 0, failed: 0 },
            deadLetter: 0,
          },
          snapshots: { publishing: true, publishLagSeconds: 0 },
        },
      });

      // No worker on this prefix: what the gateway enqueues waits, and shows.
      const org = await createOrg(api, await signup(api));
      const jobs = await producer.addEach([auditEvent({ orgId: org.id }), auditEvent({ orgId: org.id }), auditEvent({ orgId: org.id })]);
      await producer.dlq.add('tg-audit', { queue: 'tg-audit', reason: 'invalid' });
      const busy = await api.req().get('/health').expect(200);
      expect(busy.body.components.queues[QueueName.Audit].waiting).toBe(jobs.length);
      expect(jobs.length).toBe(3);
      expect(busy.body.components.queues[QueueName.Usage].waiting).toBe(0);
      expect(busy.body.components.queues.deadLetter).toBe(1);
    } finally {
      await producer.close();
      await api.close();
    }
  });

  it('answers 503 with Redis and the queues down (and why, without hosts), Postgres still up, when Redis is unreachable', async () => {
    const api = await startApi({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    try {
      const res = await api.req().get('/health').expect(503);
      expect(res.body).toMatchObject({
        status: 'unavailable',
        components: {
          postgres: { up: true, latencyMs: expect.any(Number) },
          redis: { up: false, latencyMs: expect.any(Number), error: expect.any(String) },
          queues: { up: false, error: expect.any(String) },
        },
      });
      expect(JSON.stringify(res.body)).not.toContain('127.0.0.1');
    } finally {
      await api.close();
    }
  });
});
