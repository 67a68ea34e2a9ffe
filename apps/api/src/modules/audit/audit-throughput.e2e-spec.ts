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
    // Every event is stored once, in gap-free chains that verify. The counter is checked as
    // accounting, not as an exact figure: a group whose commit landed but whose answer was lost
    // (a busy box past a timeout) is written again, and its events then count as duplicates.
    const orgs = [...backlogOrgs, ...liveOrgs];
    const perOrg = await db.$queryRaw<Array<{ rows: number; maxSeq: number }>>`
      SELECT count(*)::int AS rows, max(seq)::int AS "maxSeq" FROM "AuditEvent" WHERE "orgId" = ANY(${orgs}::uuid[]) GROUP BY "orgId"`;
    expect(perOrg).toHaveLength(2 * ORGS);
    for (const o of perOrg) expect(o).toEqual({ rows: EVENTS / ORGS, maxSeq: EVENTS / ORGS });
    const verifier = worker.get(AuditVerifier);
    for (const orgId of orgs) await expect(verifier.verify(orgId)).resolves.toMatchObject({ valid: true, checked: EVENTS / ORGS });
    // The rows are visible a moment before the consumer counts them (it publishes the live notices first).
    const consumer = worker.get(AuditConsumer);
    await waitFor(() => consumer.stats.appended + consumer.stats.duplicates >= 2 * EVENTS, 30_000, 'the counters');
    const { appended, duplicates } = consumer.stats;
    // Never counted twice; every delivery counted once, as appended or as a duplicate.
    expect(appended).toBeLessThanOrEqual(2 * EVENTS);
    expect(appended + duplicates).toBeGreaterThanOrEqual(2 * EVENTS);
    expect(backlogRate).toBeGreaterThan(150);
    expect(liveRate).toBeGreaterThan(150);
  });
});
