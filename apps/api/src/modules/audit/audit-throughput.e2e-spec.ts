import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { createDb, type Db } from '@toolgate/db';
import { AuditConsumer } from './audit.consumer';
import { AuditVerifier } from './audit.verify';
import { AuditProducer, auditEvent, queuePrefix, startAuditWorker, waitFor } from './audit.test-fixtures';

jest.setTimeout(300_000);

/**
 * Throughput of one audit worker with the default settings (AUDIT_BATCH_SIZE 500): events
 * stored per second, from a backlog already in the queue (the worker's ceiling) and while a
 * producer enqueues at full speed (end to end: addBulk → chain). Printed for the record; the
 * floor asserted is far below what the 2-core CI machine does, to catch a regression to
 * per-event round trips without being flaky.
 */
describe('audit consumer throughput', () => {
  const EVENTS = 20_000;
  const ORGS = 10;
  let db: Db;
  let producer: AuditProducer;
  let worker: INestApplicationContext | null = null;

  beforeAll(() => {
    db = createDb({ url: process.env.DATABASE_URL });
  });
  afterAll(async () => {
    await worker?.close();
    await producer?.close();
    await db.$disconnect();
  });

  const events = (orgs: string[]) => Array.from({ length: EVENTS }, (_, i) => auditEvent({ orgId: orgs[i % ORGS]!, keyId: randomUUID() }));
  const stored = (orgs: string[]) => db.auditEvent.count({ where: { orgId: { in: orgs } } });

  it('drains a backlog and keeps up with a live producer', async () => {
    const prefix = queuePrefix();
    producer = new AuditProducer(prefix);

    // 1. Backlog: everything is queued before the worker starts.
    const backlogOrgs = Array.from({ length: ORGS }, () => randomUUID());
    await producer.add(events(backlogOrgs));
    let started = performance.now();
    worker = await startAuditWorker({ QUEUE_PREFIX: prefix });
    await waitFor(async () => (await stored(backlogOrgs)) === EVENTS, 240_000, 'the backlog');
    const backlogRate = EVENTS / ((performance.now() - started) / 1000);

    // 2. Live: the producer enqueues while the worker consumes (end to end).
    const liveOrgs = Array.from({ length: ORGS }, () => randomUUID());
    const live = events(liveOrgs);
    started = performance.now();
    await producer.add(live);
    await waitFor(async () => (await stored(liveOrgs)) === EVENTS, 240_000, 'the live events');
    const liveRate = EVENTS / ((performance.now() - started) / 1000);

    console.log(
      `audit worker throughput (1 worker, batch 500, ${ORGS} orgs, ${EVENTS} events each run): ` +
        `backlog ${Math.round(backlogRate)} events/s, live end to end ${Math.round(liveRate)} events/s`,
    );
    const stats = worker.get(AuditConsumer).stats;
    expect(stats.appended).toBe(2 * EVENTS);
    await expect(worker.get(AuditVerifier).verify(liveOrgs[0]!)).resolves.toMatchObject({ valid: true, checked: EVENTS / ORGS });
    expect(backlogRate).toBeGreaterThan(150);
    expect(liveRate).toBeGreaterThan(150);
  });
});
