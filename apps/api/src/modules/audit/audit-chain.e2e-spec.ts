import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { type AuditEvent, QueueName } from '@toolgate/contracts';
import { createDb, type Db } from '@toolgate/db';
import Redis from 'ioredis';
import { sendUntilTaken, startPrivateRedis } from '../../../test/private-redis';
import { AuditConsumer } from './audit.consumer';
import { AuditVerifier } from './audit.verify';
import { AuditProducer, auditEvent, jcs, QUIET_TIMERS, queuePrefix, startAuditWorker, waitFor } from './audit.test-fixtures';

jest.setTimeout(180_000);

const GENESIS = '0'.repeat(64);

/**
 * Checks an org's stored chain without the production verifier: seq 1..n without gaps, each
 * prevHash the previous hash, each hash recomputed from the payload, the head at the last event.
 */
async function expectIntactChain(db: Db, orgId: string, expected: number): Promise<Array<{ id: string; seq: bigint; payload: unknown }>> {
  const rows = await db.auditEvent.findMany({ where: { orgId }, orderBy: { seq: 'asc' } });
  expect(rows).toHaveLength(expected);
  let prev = GENESIS;
  rows.forEach((r, i) => {
    expect(r.seq).toBe(BigInt(i + 1));
    expect(r.prevHash).toBe(prev);
    expect(r.hash).toBe(
      createHash('sha256')
        .update(`${prev}${jcs(r.payload)}`)
        .digest('hex'),
    );
    prev = r.hash;
  });
  const head = await db.auditHead.findUnique({ where: { orgId } });
  expect({ seq: head?.seq, hash: head?.hash }).toEqual({ seq: BigInt(expected), hash: prev });
  expect(new Set(rows.map((r) => r.id)).size).toBe(expected);
  return rows;
}

const countOf = (db: Db, orgIds: string[]) => db.auditEvent.count({ where: { orgId: { in: orgIds } } });

describe('tg-audit consumer', () => {
  let db: Db;
  let prefix: string;
  let producer: AuditProducer;
  const workers: INestApplicationContext[] = [];

  beforeAll(() => {
    db = createDb({ url: process.env.DATABASE_URL });
  });
  afterAll(() => db.$disconnect());

  beforeEach(() => {
    prefix = queuePrefix();
    producer = new AuditProducer(prefix);
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close();
    await producer.close();
  });

  const start = async (overrides: Record<string, string> = {}) => {
    const w = await startAuditWorker({ QUEUE_PREFIX: prefix, AUDIT_BATCH_WAIT_MS: '20', ...overrides });
    workers.push(w);
    return w;
  };

  it('chains 10,000 events written concurrently for 5 orgs by two workers: every chain valid, gap-free, fork-free', async () => {
    const [w1, w2] = [await start(), await start()];
    const orgs = Array.from({ length: 5 }, () => randomUUID());
    const events = Array.from({ length: 10_000 }, (_, i) =>
      auditEvent({ orgId: orgs[i % 5]!, keyId: randomUUID(), at: new Date(Date.now() - Math.floor(Math.random() * 60_000)).toISOString() }),
    );
    // Four "gateways" enqueue at the same time.
    await Promise.all([0, 1, 2, 3].map((g) => producer.add(events.filter((_, i) => i % 4 === g))));
    await waitFor(async () => (await countOf(db, orgs)) === 10_000, 120_000, '10,000 events stored');
    await producer.drained();

    for (const org of orgs) {
      await expectIntactChain(db, org, 2000);
      await expect(w1.get(AuditVerifier).verify(org)).resolves.toMatchObject({
        valid: true,
        checked: 2000,
        firstBrokenSeq: null,
        headSeq: 2000,
      });
    }
    const s1 = w1.get(AuditConsumer).stats;
    const s2 = w2.get(AuditConsumer).stats;
    expect(s1.appended + s2.appended).toBe(10_000);
    // Both workers really wrote (so the chain lock was contended, not trivially serial).
    expect(s1.appended).toBeGreaterThan(0);
    expect(s2.appended).toBeGreaterThan(0);
    expect(s1.deadLettered + s2.deadLettered).toBe(0);
  });

  it('stores a redelivered event once, leaving no gap in the sequence', async () => {
    const w = await start();
    const orgId = randomUUID();
    const a = auditEvent({ orgId });
    const b = auditEvent({ orgId });
    await producer.add([a, b]);
    await producer.drained();
    // The same events again: under other job ids (a gateway re-sending after BullMQ forgot the
    // job), the same job id after the completed job was removed, and twice inside one batch.
    await producer.queue.addBulk([
      { name: orgId, data: a, opts: { jobId: `${a.id}-resent` } },
      { name: orgId, data: b, opts: { jobId: `${b.id}-resent` } },
    ]);
    await producer.queue.clean(0, 10_000, 'completed');
    const c = auditEvent({ orgId });
    await producer.add([a, c]);
    await producer.queue.addBulk([{ name: orgId, data: c, opts: { jobId: `${c.id}-again` } }]);
    await producer.drained();
    await waitFor(async () => (await countOf(db, [orgId])) === 3, 10_000, 'three events');

    const rows = await expectIntactChain(db, orgId, 3);
    // a and b were enqueued together: the chain has them in receipt order, which BullMQ's
    // concurrent hand-over may swap; c came after the drain.
    expect(new Set(rows.slice(0, 2).map((r) => r.id))).toEqual(new Set([a.id, b.id]));
    expect(rows[2]!.id).toBe(c.id);
    expect(w.get(AuditConsumer).stats.duplicates).toBe(4);
  });

  it('appends out-of-order events in arrival order (seq is receipt order, `at` is the gateway time)', async () => {
    const w = await start();
    const orgId = randomUUID();
    const now = Date.now();
    const newest = auditEvent({ orgId, at: new Date(now).toISOString() });
    const hourOld = auditEvent({ orgId, at: new Date(now - 3_600_000).toISOString() });
    const daysOld = auditEvent({ orgId, at: new Date(now - 2 * 86_400_000).toISOString() });
    for (const e of [newest, hourOld, daysOld]) {
      await producer.add([e]);
      await producer.drained();
    }
    const rows = await expectIntactChain(db, orgId, 3);
    expect(rows.map((r) => r.id)).toEqual([newest.id, hourOld.id, daysOld.id]);
    expect((rows[2]!.payload as AuditEvent).at).toBe(daysOld.at);
    await expect(w.get(AuditVerifier).verify(orgId)).resolves.toMatchObject({ valid: true, checked: 3 });
  });

  it('sends poison messages to tg-dead-letter with their error and keeps consuming', async () => {
    const w = await start();
    const orgId = randomUUID();
    const good1 = auditEvent({ orgId });
    const good2 = auditEvent({ orgId });
    const poison: Array<Record<string, unknown>> = [
      { id: randomUUID(), orgId, garbage: true },
      { ...auditEvent({ orgId }), schemaVersion: 2 },
      { ...auditEvent({ orgId }), orgId: 'not-a-uuid' },
      { ...auditEvent({ orgId }), decision: 'maybe' },
      { ...auditEvent({ orgId }), bytesIn: 2 ** 40 },
      { ...auditEvent({ orgId }), at: 'yesterday' },
    ];
    // One batch job: the poison events are dead-lettered one by one, their neighbours stored.
    const [jobId] = await producer.add([good1, ...poison, good2]);
    await producer.drained();
    await waitFor(async () => (await producer.dlq.count()) === poison.length, 10_000, 'dead letters');

    await expectIntactChain(db, orgId, 2);
    const letters = await producer.dlq.getJobs(['waiting']);
    const byJob = new Map(letters.map((j) => [j.data.jobId as string, j.data]));
    const letterOf = (i: number) => byJob.get(`${jobId}.${i + 1}`); // poison[i] sits at index i + 1
    poison.forEach((p, i) => {
      expect(letterOf(i)).toMatchObject({ queue: QueueName.Audit, reason: 'invalid', data: p, error: expect.any(String) });
    });
    expect(letterOf(1)!.error).toMatch(/schemaVersion/);
    expect(letterOf(2)!.error).toMatch(/orgId must be a UUID/);
    expect(letterOf(4)!.error).toMatch(/bytesIn/);
    expect(w.get(AuditConsumer).stats.deadLettered).toBe(poison.length);
    // The job completed: nothing is left to retry or to block.
    expect(await producer.counts()).toMatchObject({ completed: 1, failed: 0, waiting: 0, active: 0, delayed: 0 });
  });

  it('takes bare-event jobs (gateways before batching) and dead-letters a malformed batch whole', async () => {
    const w = await start();
    const orgId = randomUUID();
    const bare = [auditEvent({ orgId }), auditEvent({ orgId })];
    const bad = { ...auditEvent({ orgId }), decision: 'maybe' };
    await producer.addEach([bare[0]!, bad, bare[1]!]);
    const malformed = [
      { schemaVersion: 1, events: 'not a list' },
      { schemaVersion: 1, events: [] },
      { schemaVersion: 9, events: [auditEvent({ orgId })] },
    ];
    await producer.queue.addBulk(malformed.map((data, i) => ({ name: 'events', data, opts: { jobId: `malformed-${i}` } })));
    await producer.drained();
    await waitFor(async () => (await producer.dlq.count()) === 4, 10_000, 'dead letters');

    const rows = await expectIntactChain(db, orgId, 2);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(bare.map((e) => e.id)));
    const byJob = new Map((await producer.dlq.getJobs(['waiting'])).map((j) => [j.data.jobId as string, j.data]));
    expect(byJob.get(bad.id)).toMatchObject({ reason: 'invalid', data: bad, error: expect.stringMatching(/decision/) });
    malformed.forEach((data, i) => {
      expect(byJob.get(`malformed-${i}`)).toMatchObject({ reason: 'invalid', data, error: expect.any(String) });
    });
    expect(byJob.get('malformed-0')!.error).toMatch(/events/);
    expect(byJob.get('malformed-2')!.error).toMatch(/schemaVersion/);
    expect(w.get(AuditConsumer).stats).toMatchObject({ jobs: 6, deadLettered: 4, appended: 2 });
    expect(await producer.counts()).toMatchObject({ completed: 6, failed: 0 });
  });

  it('stores what Postgres cannot hold (NUL, lone surrogates) as U+FFFD and hashes what it stored', async () => {
    const w = await start();
    const orgId = randomUUID();
    const e = auditEvent({ orgId, target: 'a\u0000b', arguments: { 'k\u0000': 'x\ud800y', ok: 'ü😀' } });
    await producer.add([e]);
    await producer.drained();
    const [row] = await expectIntactChain(db, orgId, 1);
    expect(row!.payload).toMatchObject({ target: 'a\uFFFDb', arguments: { 'k\uFFFD': 'x\uFFFDy', ok: 'ü😀' } });
    const stored = await db.auditEvent.findUniqueOrThrow({ where: { id: e.id } });
    expect(stored.target).toBe('a\uFFFDb');
    await expect(w.get(AuditVerifier).verify(orgId)).resolves.toMatchObject({ valid: true });
  });

  it('retries an event the database refuses with backoff, stores its neighbours, and dead-letters it alone when attempts run out', async () => {
    const w = await start();
    const orgId = randomUUID();
    await db.$executeRawUnsafe(
      `ALTER TABLE "AuditEvent" ADD CONSTRAINT audit_test_refuse CHECK (target IS DISTINCT FROM 'refused') NOT VALID`,
    );
    try {
      const flaky = auditEvent({ orgId, target: 'refused' });
      const doomed = auditEvent({ orgId, target: 'refused' });
      const fine = [auditEvent({ orgId }), auditEvent({ orgId }), auditEvent({ orgId })];
      const [flakyJob] = await producer.add([fine[0]!, flaky, fine[1]!]);
      const [doomedJob] = await producer.add([fine[2]!, doomed], { jobOptions: { attempts: 2, backoff: { type: 'fixed', delay: 100 } } });
      // The neighbours are stored at once; the refused ones fail their jobs, which wait for a retry.
      await waitFor(async () => (await countOf(db, [orgId])) === 3, 15_000, 'neighbours stored');
      await waitFor(async () => ((await producer.queue.getJob(flakyJob!))?.attemptsMade ?? 0) >= 1, 15_000, 'a failed attempt');
      await waitFor(async () => (await producer.dlq.count()) === 1, 15_000, 'the exhausted event dead-lettered');
      const [letter] = await producer.dlq.getJobs(['waiting']);
      expect(letter!.data).toMatchObject({
        jobId: `${doomedJob}.1`,
        data: doomed,
        reason: 'exhausted',
        attemptsMade: 2,
        error: expect.stringMatching(/audit_test_refuse/),
      });
      // Its job completed on that last attempt: only the refused event was parked.
      await waitFor(async () => (await producer.queue.getJob(doomedJob!))?.finishedOn !== undefined, 5000, 'the job settled');
      expect(await (await producer.queue.getJob(doomedJob!))!.getState()).toBe('completed');
      expect(await db.auditEvent.count({ where: { id: { in: [flaky.id, doomed.id] } } })).toBe(0);
    } finally {
      await db.$executeRawUnsafe(`ALTER TABLE "AuditEvent" DROP CONSTRAINT IF EXISTS audit_test_refuse`);
    }
    // The cause is gone: the next retry (catalog backoff, 500 ms doubling) stores it, exactly once.
    await waitFor(async () => (await countOf(db, [orgId])) === 4, 30_000, 'the retried event stored');
    await expectIntactChain(db, orgId, 4);
    expect(w.get(AuditConsumer).stats.failedBatches).toBeGreaterThan(0);
  });

  it('holds every job while the database is unusable, spending no attempt, hands them back at shutdown, then stores each once', async () => {
    // A worker whose database does not exist: the first batch fails, the worker pauses and holds its jobs.
    const broken = await start({
      DATABASE_URL: process.env.DATABASE_URL!.replace(/\/[^/]+$/, '/tg_audit_no_such_db'),
      OUTAGE_PROBE_BASE_MS: '50',
      OUTAGE_PROBE_MAX_MS: '200',
    });
    const orgId = randomUUID();
    const events = Array.from({ length: 30 }, () => auditEvent({ orgId }));
    const [jobId] = await producer.add(events);
    await waitFor(() => broken.get(AuditConsumer).stats.failedBatches > 0, 15_000, 'a failed batch');
    // Longer than the test jobs' whole retry budget (3 attempts, 100 ms apart).
    await new Promise((r) => setTimeout(r, 1500));
    const job = await producer.queue.getJob(jobId!);
    expect({ state: await job!.getState(), attemptsMade: job!.attemptsMade }).toEqual({ state: 'active', attemptsMade: 0 });
    expect(broken.get(AuditConsumer).stats.appended).toBe(0);
    expect(await producer.dlq.count()).toBe(0);
    await broken.close();
    workers.splice(workers.indexOf(broken), 1);
    // Handed back without an attempt, not left to stall.
    expect(await (await producer.queue.getJob(jobId!))!.getState()).toBe('waiting');

    // The database is back (a worker that reaches it): the retries store everything, once.
    await start();
    await waitFor(async () => (await countOf(db, [orgId])) === 30, 30_000, 'the retried events');
    await producer.drained();
    await expectIntactChain(db, orgId, 30);
  });

  it('a worker killed (SIGKILL) mid-batch and replaced: every event stored exactly once', async () => {
    const orgs = [randomUUID(), randomUUID(), randomUUID()];
    const events = Array.from({ length: 6000 }, (_, i) => auditEvent({ orgId: orgs[i % 3]! }));
    await producer.add(events);
    const env = {
      ...process.env,
      ...QUIET_TIMERS,
      QUEUE_PREFIX: prefix,
      AUDIT_LOCK_MS: '2000',
      AUDIT_BATCH_SIZE: '100',
      AUDIT_BATCH_WAIT_MS: '10',
    };
    const child: ChildProcess = spawn(process.execPath, ['-r', '@swc-node/register', 'src/worker.ts'], {
      cwd: path.resolve(__dirname, '../../..'),
      env,
      stdio: 'ignore',
    });
    try {
      await waitFor(async () => (await countOf(db, orgs)) >= 500, 60_000, 'the worker process to store events');
    } finally {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }
    const stored = await countOf(db, orgs);
    expect(stored).toBeLessThan(6000);
    const active = (await producer.counts()).active;

    // A new worker takes over: the dead worker's active jobs come back once their locks expire.
    await start({ AUDIT_LOCK_MS: '2000' });
    await waitFor(async () => (await countOf(db, orgs)) === 6000, 90_000, 'all events after the restart');
    await producer.drained(30_000);
    for (const org of orgs) await expectIntactChain(db, org, 2000);
    expect(await db.auditEvent.count({ where: { id: { in: events.map((e) => e.id) } } })).toBe(6000);
    // The kill did hit jobs in flight (otherwise this test proved nothing about redelivery).
    expect(active).toBeGreaterThan(0);
  });

  it("survives the worker's Redis connections being killed while events flow: every event stored exactly once", async () => {
    const w = await start();
    const orgs = [randomUUID(), randomUUID()];
    const events = Array.from({ length: 4000 }, (_, i) => auditEvent({ orgId: orgs[i % 2]! }));
    const admin = new Redis(process.env.REDIS_URL!);
    try {
      const adding = producer.add(events);
      await waitFor(async () => (await countOf(db, orgs)) >= 200, 30_000, 'events flowing');
      const clients = (await admin.client('LIST')) as string;
      const ids = clients
        .split('\n')
        .filter((l) => l.includes('name=toolgate-audit-consumer'))
        .map((l) => /\bid=(\d+)/.exec(l)?.[1])
        .filter((id): id is string => id !== undefined);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) await admin.client('KILL', 'ID', id);
      await adding;
      await waitFor(async () => (await countOf(db, orgs)) === 4000, 90_000, 'all events after the reconnect');
    } finally {
      admin.disconnect();
    }
    await producer.drained(60_000);
    for (const org of orgs) await expectIntactChain(db, org, 2000);
    await expect(w.get(AuditVerifier).verify(orgs[0]!)).resolves.toMatchObject({ valid: true, checked: 2000 });
  });
  it('loses nothing when Redis stops and restarts while events flow: every event stored exactly once, chains verify', async () => {
    // A private Redis (the shared one is never restarted), with an append-only file so a restart
    // keeps the queue, as production Redis must.
    const redis = await startPrivateRedis();
    const own = new AuditProducer(prefix, redis.url);
    const orgs = [randomUUID(), randomUUID()];
    const sent: AuditEvent[] = [];
    let stop = false;
    try {
      const w = await start({ REDIS_URL: redis.url, AUDIT_BATCH_SIZE: '100', AUDIT_LOCK_MS: '2000' });
      // The producer plays the gateway: a batch every few ms; a batch Redis did not take is kept
      // and re-sent with the same job ids (as the gateway's spool does).
      const flow = (async () => {
        for (let b = 0; !stop; b++) {
          const batch = Array.from({ length: 20 }, (_, i) => auditEvent({ orgId: orgs[(b + i) % 2]! }));
          await sendUntilTaken(() => own.add(batch));
          sent.push(...batch);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();

      await waitFor(async () => (await countOf(db, orgs)) >= 200, 30_000, 'events flowing');
      await redis.stop();
      const beforeOutage = sent.length;
      // Redis is down: the consumer's connection retries, the producer's batches wait.
      await new Promise((r) => setTimeout(r, 1500));
      await redis.restart();
      await waitFor(() => sent.length > beforeOutage + 200, 30_000, 'the flow to resume after the restart');
      stop = true;
      await flow;

      await own.drained(90_000);
      await waitFor(async () => (await countOf(db, orgs)) === sent.length, 30_000, `all ${sent.length} events stored`);
      const perOrg = orgs.map((o) => sent.filter((e) => e.orgId === o).length);
      for (const [i, org] of orgs.entries()) await expectIntactChain(db, org, perOrg[i]!);
      expect(await db.auditEvent.count({ where: { id: { in: sent.map((e) => e.id) } } })).toBe(sent.length);
      for (const [i, org] of orgs.entries()) {
        await expect(w.get(AuditVerifier).verify(org)).resolves.toMatchObject({ valid: true, checked: perOrg[i] });
      }
      const c = await own.counts();
      expect({ failed: c.failed, dead: await own.dlq.count() }).toEqual({ failed: 0, dead: 0 });
    } finally {
      stop = true;
      for (const w of workers.splice(0)) await w.close();
      await own.close().catch(() => undefined);
      await redis.close();
    }
  });
});

describe('AuditEvent table guard', () => {
  let db: Db;
  beforeAll(() => {
    db = createDb({ url: process.env.DATABASE_URL });
  });
  afterAll(() => db.$disconnect());

  it('refuses UPDATE, DELETE and TRUNCATE; DELETE only passes inside a pruning transaction', async () => {
    const orgId = randomUUID();
    const id = randomUUID();
    await db.$executeRaw`
      INSERT INTO "AuditEvent" (id, "orgId", seq, "prevHash", hash, payload, at, method, decision, outcome, "latencyMs", "bytesIn", "bytesOut")
      VALUES (${id}::uuid, ${orgId}::uuid, 1, ${GENESIS}, 'h', '{}'::jsonb, now(), 'tools/call', 'allow', 'ok', 0, 0, 0)`;
    await expect(db.$executeRaw`UPDATE "AuditEvent" SET method = 'x' WHERE id = ${id}::uuid`).rejects.toThrow(
      /append-only \(UPDATE refused\)/,
    );
    await expect(db.$executeRaw`DELETE FROM "AuditEvent" WHERE id = ${id}::uuid`).rejects.toThrow(/append-only \(DELETE refused\)/);
    await expect(db.$executeRawUnsafe('TRUNCATE "AuditEvent"')).rejects.toThrow(/append-only \(TRUNCATE refused\)/);
    // The pruning switch is transaction-local: it does not leak into the next transaction.
    await db.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL toolgate.audit_prune = 'on'`;
      await tx.$executeRaw`DELETE FROM "AuditEvent" WHERE id = ${id}::uuid`;
    });
    expect(await db.auditEvent.count({ where: { id } })).toBe(0);
    const other = randomUUID();
    await db.$executeRaw`
      INSERT INTO "AuditEvent" (id, "orgId", seq, "prevHash", hash, payload, at, method, decision, outcome, "latencyMs", "bytesIn", "bytesOut")
      VALUES (${other}::uuid, ${orgId}::uuid, 2, ${GENESIS}, 'h', '{}'::jsonb, now(), 'tools/call', 'allow', 'ok', 0, 0, 0)`;
    await expect(db.$executeRaw`DELETE FROM "AuditEvent" WHERE id = ${other}::uuid`).rejects.toThrow(/append-only/);
  });
});
