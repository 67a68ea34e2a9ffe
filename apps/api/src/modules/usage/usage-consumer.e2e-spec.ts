import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { QueueName } from '@toolgate/contracts';
import { Queue } from 'bullmq';
import { type Api, createOrg, signup, startApi } from '../../../test/harness';
import { UsageConsumer } from './usage.consumer';
import { hourStart } from './usage.rules';
import { HOUR, queuePrefix, startTestWorker, UsageProducer, usageEvent, waitFor } from './usage.test-fixtures';

jest.setTimeout(60_000);

/** The roll-up rows of one org, as plain numbers, keyed `hourISO|key|server|target`. */
async function rollups(api: Api, orgId: string) {
  const rows = await api.prisma.db.usageHourly.findMany({
    where: { orgId },
    orderBy: [{ hour: 'asc' }, { keyId: 'asc' }, { serverId: 'asc' }, { target: 'asc' }],
  });
  return Object.fromEntries(
    rows.map((r) => [
      `${r.hour.toISOString()}|${r.keyId}|${r.serverId}|${r.target}`,
      {
        calls: r.calls,
        errors: r.errors,
        denied: r.denied,
        bytesIn: Number(r.bytesIn),
        bytesOut: Number(r.bytesOut),
        durationMs: r.durationMs,
      },
    ]),
  );
}

async function sumCalls(api: Api, orgId: string): Promise<number> {
  const agg = await api.prisma.db.usageHourly.aggregate({ where: { orgId }, _sum: { calls: true } });
  return agg._sum.calls ?? 0;
}

describe('tg-usage consumer', () => {
  let api: Api;
  let prefix: string;
  let producer: UsageProducer;
  let worker: INestApplicationContext;

  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  beforeEach(async () => {
    prefix = queuePrefix();
    producer = new UsageProducer(prefix);
    worker = await startTestWorker({ QUEUE_PREFIX: prefix, USAGE_BATCH_SIZE: '100', USAGE_BATCH_WAIT_MS: '20' });
  });
  afterEach(async () => {
    await worker.close();
    await producer.close();
  });

  it('rolls events up per org / key / server / tool / hour with calls, errors, denied, bytes and duration', async () => {
    const orgId = randomUUID();
    const other = randomUUID();
    const keyA = randomUUID();
    const keyB = randomUUID();
    const srv = randomUUID();
    const h0 = hourStart(new Date(Date.now() - 3 * HOUR));
    const h1 = new Date(h0.getTime() + HOUR);
    const at = (h: Date, min: number) => new Date(h.getTime() + min * 60_000).toISOString();
    const base = { orgId, keyId: keyA, serverId: srv, target: 'search' };
    const events = [
      usageEvent({ ...base, at: at(h0, 1), bytesIn: 10, bytesOut: 20, durationMs: 1.5 }),
      usageEvent({ ...base, at: at(h0, 59), outcome: 'error', bytesIn: 1, bytesOut: 2, durationMs: 2.25 }),
      usageEvent({ ...base, at: at(h0, 30), outcome: 'timeout', durationMs: 1000 }),
      usageEvent({ ...base, at: at(h0, 31), outcome: 'upstream_error', durationMs: 0 }),
      // Denied calls never reach upstream: no latency to average, whatever the gateway measured.
      usageEvent({ ...base, at: at(h0, 32), decision: 'deny', outcome: 'denied', durationMs: 0.25 }),
      usageEvent({ ...base, at: at(h0, 33), decision: 'rate_limited', outcome: 'denied', durationMs: 0.25 }),
      usageEvent({ ...base, at: at(h0, 34), decision: 'quota_exceeded', outcome: 'denied', durationMs: 0.25 }),
      // Cancelled by the agent after it was forwarded: a billable call, not an error.
      usageEvent({ ...base, at: at(h0, 35), outcome: 'cancelled', bytesIn: 2, bytesOut: 0, durationMs: 0.5 }),
      // Same key and tool, the next hour.
      usageEvent({ ...base, at: at(h1, 0), bytesIn: 5, bytesOut: 6, durationMs: 7 }),
      // Another key; a prompt and a resource read are calls too.
      usageEvent({
        orgId,
        keyId: keyB,
        serverId: srv,
        target: 'greeting',
        method: 'prompts/get',
        at: at(h0, 5),
        bytesIn: 1,
        bytesOut: 1,
        durationMs: 1,
      }),
      usageEvent({
        orgId,
        keyId: keyB,
        serverId: srv,
        target: 'file:///a',
        method: 'resources/read',
        at: at(h0, 6),
        bytesIn: 1,
        bytesOut: 1,
        durationMs: 1,
      }),
      // Not calls: bytes only, even when denied or failed; their time (an initialize may start a
      // stdio server) is no call's latency.
      usageEvent({
        orgId,
        keyId: keyB,
        serverId: null,
        target: null,
        method: 'tools/list',
        at: at(h0, 7),
        bytesIn: 3,
        bytesOut: 4,
        durationMs: 5000,
      }),
      usageEvent({
        orgId,
        keyId: null,
        serverId: null,
        target: null,
        method: 'initialize',
        decision: 'unauthenticated',
        outcome: 'denied',
        at: at(h0, 8),
        bytesIn: 9,
        bytesOut: 0,
        durationMs: 3,
      }),
      // Another org's event never mixes in.
      usageEvent({ orgId: other, keyId: keyA, serverId: srv, target: 'search', at: at(h0, 1) }),
    ];
    await producer.add(events);
    await producer.drained();

    const h0s = h0.toISOString();
    expect(await rollups(api, orgId)).toEqual({
      [`${h0s}|${keyA}|${srv}|search`]: {
        calls: 8,
        errors: 3,
        denied: 3,
        bytesIn: 10 + 1 + 500 + 2,
        bytesOut: 20 + 2 + 1000,
        durationMs: 1004.25,
      },
      [`${h1.toISOString()}|${keyA}|${srv}|search`]: { calls: 1, errors: 0, denied: 0, bytesIn: 5, bytesOut: 6, durationMs: 7 },
      [`${h0s}|${keyB}|${srv}|greeting`]: { calls: 1, errors: 0, denied: 0, bytesIn: 1, bytesOut: 1, durationMs: 1 },
      [`${h0s}|${keyB}|${srv}|file:///a`]: { calls: 1, errors: 0, denied: 0, bytesIn: 1, bytesOut: 1, durationMs: 1 },
      [`${h0s}|${keyB}||`]: { calls: 0, errors: 0, denied: 0, bytesIn: 3, bytesOut: 4, durationMs: 0 },
      [`${h0s}|||`]: { calls: 0, errors: 0, denied: 0, bytesIn: 9, bytesOut: 0, durationMs: 0 },
    });
    expect(await sumCalls(api, other)).toBe(1);
    expect(await api.prisma.db.usageEventSeen.count({ where: { orgId } })).toBe(events.length - 1);
  });

  it('counts a redelivered event once, whether it comes back in the same batch or much later', async () => {
    const orgId = randomUUID();
    const events = Array.from({ length: 50 }, (_, i) => usageEvent({ orgId, at: new Date(Date.now() - (i % 5) * HOUR).toISOString() }));
    // Each event twice in one go: two jobs of the same events (under different job ids: BullMQ
    // would drop a same-id job itself), written in one batch.
    await producer.add([...events, ...events], { perJob: 50, jobId: (n) => `twice-${n}` });
    await producer.drained();
    expect(await sumCalls(api, orgId)).toBe(50);

    // And again, later, out of order, mixed with new events.
    const fresh = Array.from({ length: 10 }, () => usageEvent({ orgId }));
    await producer.add([...fresh, ...[...events].reverse()], { perJob: 30, jobId: (n) => `later-${n}` });
    await producer.drained();
    expect(await sumCalls(api, orgId)).toBe(60);
    const c = await producer.counts();
    expect({ completed: c.completed, failed: c.failed }).toEqual({ completed: 4, failed: 0 });
    const stats = worker.get(UsageConsumer).stats;
    expect(stats.counted).toBe(60);
    expect(stats.duplicates).toBe(100);
  });

  it('holds about one batch of events whatever the jobs carry: few full jobs, or many small ones', async () => {
    const orgId = randomUUID();
    const consumer = worker.get(UsageConsumer);
    // USAGE_BATCH_SIZE 100, one batch in flight: 100 events held at most.
    await producer.add(Array.from({ length: 640 }, () => usageEvent({ orgId })));
    await producer.drained();
    expect(consumer.stats.concurrency).toBe(2); // ⌈100 / 64⌉ full jobs
    await producer.add(
      Array.from({ length: 300 }, () => usageEvent({ orgId })),
      { perJob: 1 },
    );
    await producer.drained();
    expect(consumer.stats.concurrency).toBe(100); // one event each
    expect(consumer.stats).toMatchObject({ jobs: 310, counted: 940, duplicates: 0 });
    expect(await sumCalls(api, orgId)).toBe(940);
  });

  it('accepts events out of order across hours and months', async () => {
    const orgId = randomUUID();
    const lastMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 0, 23, 59, 59));
    const events = [
      usageEvent({ orgId }),
      usageEvent({ orgId, at: lastMonth.toISOString() }),
      usageEvent({ orgId, at: new Date(Date.now() - 40 * HOUR).toISOString() }),
    ];
    await producer.add(events);
    await producer.drained();
    const rows = await api.prisma.db.usageHourly.findMany({ where: { orgId }, orderBy: { hour: 'asc' } });
    expect(rows.map((r) => r.hour.toISOString())).toEqual(
      [lastMonth, new Date(Date.now() - 40 * HOUR), new Date()].map((d) => hourStart(d).toISOString()).sort(),
    );
  });

  it('sends poison messages to tg-dead-letter with their error and keeps consuming', async () => {
    const orgId = randomUUID();
    const good = Array.from({ length: 20 }, () => usageEvent({ orgId }));
    const poison: Array<Record<string, unknown>> = [
      { id: randomUUID(), hello: 'world' },
      { ...usageEvent({ orgId }), orgId: 'not-a-uuid' },
      { ...usageEvent({ orgId }), bytesIn: -1 },
      { ...usageEvent({ orgId }), schemaVersion: 2 },
      { ...usageEvent({ orgId }), at: 'yesterday' },
    ];
    const [jobId] = await producer.add([...good.slice(0, 10), ...poison, ...good.slice(10)]);
    await producer.drained();
    expect(await sumCalls(api, orgId)).toBe(20);
    const c = await producer.counts();
    expect({ completed: c.completed, failed: c.failed }).toEqual({ completed: 1, failed: 0 });

    const dlq = new Queue(QueueName.DeadLetter, { connection: producer.connection, prefix });
    try {
      const letters = await dlq.getJobs(['waiting']);
      expect(letters).toHaveLength(5);
      const byJob = Object.fromEntries(letters.map((j) => [j.data.jobId, j.data]));
      const letterOf = (i: number) => byJob[`${jobId}.${i + 10}`]; // poison[i] sits at index i + 10
      poison.forEach((p, i) => {
        expect(letterOf(i)).toMatchObject({ queue: 'tg-usage', reason: 'invalid', data: p, error: expect.any(String) });
      });
      expect(letterOf(1).error).toContain('orgId');
      expect(letterOf(2).error).toContain('bytesIn');
    } finally {
      await dlq.close();
    }
  });

  it('retries while the database refuses writes, then counts everything once', async () => {
    const orgId = randomUUID();
    // Fault injection in the database itself: every insert into UsageEventSeen fails.
    await api.prisma.db.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION tg_test_refuse() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql`);
    await api.prisma.db.$executeRawUnsafe(
      `CREATE TRIGGER tg_test_refuse BEFORE INSERT ON "UsageEventSeen" FOR EACH ROW EXECUTE FUNCTION tg_test_refuse()`,
    );
    try {
      await producer.add(Array.from({ length: 30 }, () => usageEvent({ orgId })));
      await waitFor(async () => (await producer.counts()).delayed > 0, 10_000, 'jobs to be scheduled for retry');
      expect(await sumCalls(api, orgId)).toBe(0);
    } finally {
      await api.prisma.db.$executeRawUnsafe(`DROP TRIGGER IF EXISTS tg_test_refuse ON "UsageEventSeen"`);
    }
    await producer.drained();
    expect(await sumCalls(api, orgId)).toBe(30);
    expect((await producer.counts()).failed).toBe(0);
  });

  it('isolates an event the database refuses: its neighbours are counted, it is dead-lettered when out of attempts', async () => {
    const orgId = randomUUID();
    const bad = usageEvent({ orgId });
    await api.prisma.db.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION tg_test_refuse_one() RETURNS trigger AS $$
      BEGIN IF NEW.id = '${bad.id}' THEN RAISE EXCEPTION 'injected failure for one event'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await api.prisma.db.$executeRawUnsafe(
      `CREATE TRIGGER tg_test_refuse_one BEFORE INSERT ON "UsageEventSeen" FOR EACH ROW EXECUTE FUNCTION tg_test_refuse_one()`,
    );
    const dlq = new Queue(QueueName.DeadLetter, { connection: producer.connection, prefix });
    try {
      const good = Array.from({ length: 40 }, () => usageEvent({ orgId }));
      const [jobId] = await producer.add([...good.slice(0, 20), bad, ...good.slice(20)]);
      await producer.drained();
      expect(await sumCalls(api, orgId)).toBe(40);
      // The job was retried for its refused event; on its last attempt that event alone was parked
      // and the job completed.
      const c = await producer.counts();
      expect({ completed: c.completed, failed: c.failed }).toEqual({ completed: 1, failed: 0 });
      await waitFor(async () => (await dlq.getJobCounts('waiting')).waiting === 1, 5000, 'the dead letter');
      const [letter] = await dlq.getJobs(['waiting']);
      expect(letter!.data).toMatchObject({ queue: 'tg-usage', jobId: `${jobId}.20`, reason: 'exhausted', attemptsMade: 3, data: bad });
      expect(letter!.data.error).toContain('injected failure for one event');
    } finally {
      await dlq.close();
      await api.prisma.db.$executeRawUnsafe(`DROP TRIGGER IF EXISTS tg_test_refuse_one ON "UsageEventSeen"`);
    }
  });

  it("stamps each key's lastUsedAt with its newest event, never moving it back, and only for keys of the event's org", async () => {
    const owner = await signup(api, 'lastused');
    const org = await createOrg(api, owner);
    const other = await createOrg(api, owner);
    const key = async (orgSlug: string, name: string) =>
      (await api.req().post(`/v1/orgs/${orgSlug}/keys`).set(owner.auth).send({ name }).expect(201)).body.id as string;
    const [a, b, foreign] = [await key(org.slug, 'a'), await key(org.slug, 'b'), await key(other.slug, 'foreign')];
    const base = Date.now();
    const t = (minutesAgo: number) => new Date(base - minutesAgo * 60_000).toISOString();

    await producer.add([
      usageEvent({ orgId: org.id, keyId: a, at: t(30) }),
      usageEvent({ orgId: org.id, keyId: a, at: t(10) }),
      usageEvent({ orgId: org.id, keyId: a, at: t(20) }),
      // A denied call still shows the key was presented.
      usageEvent({ orgId: org.id, keyId: b, at: t(5), decision: 'deny', outcome: 'denied' }),
      // Claims a key of another org: must not touch it.
      usageEvent({ orgId: org.id, keyId: foreign, at: t(1) }),
      // Not a key id at all: ignored, the batch is still counted.
      usageEvent({ orgId: org.id, keyId: 'anonymous', at: t(1) }),
    ]);
    await producer.drained();
    const lastUsed = async (id: string) =>
      (await api.prisma.db.apiKey.findUniqueOrThrow({ where: { id } })).lastUsedAt?.toISOString() ?? null;
    await waitFor(async () => (await lastUsed(b)) !== null, 5000, 'the stamp after the batch');
    expect({ a: await lastUsed(a), b: await lastUsed(b), foreign: await lastUsed(foreign) }).toEqual({ a: t(10), b: t(5), foreign: null });
    expect(await sumCalls(api, org.id)).toBe(6);

    // An older event arriving late leaves the newer stamp alone; a newer one moves it forward.
    const before = await lastUsed(a);
    // (b's newer event, added after it, tells when the late event's batch has been handled.)
    await producer.add([usageEvent({ orgId: org.id, keyId: a, at: t(60) }), usageEvent({ orgId: org.id, keyId: b, at: t(2) })]);
    await producer.drained();
    await waitFor(async () => (await lastUsed(b)) === t(2), 5000, "b's newer stamp");
    expect(await lastUsed(a)).toBe(before);
    const now = new Date().toISOString();
    await producer.add([usageEvent({ orgId: org.id, keyId: a, at: now })]);
    await producer.drained();
    await waitFor(async () => (await lastUsed(a)) === now, 5000, 'the newer stamp');

    // The keys API shows it.
    const res = await api.req().get(`/v1/orgs/${org.slug}/keys/${a}`).set(owner.auth).expect(200);
    expect(res.body.lastUsedAt).toBe(now);

    // An event dated in the future (a gateway clock ahead) stamps the time it was handled, no later.
    await producer.add([usageEvent({ orgId: org.id, keyId: b, at: new Date(Date.now() + 3_600_000).toISOString() })]);
    await producer.drained();
    await waitFor(async () => (await lastUsed(b)) !== t(2), 5000, "b's stamp from the future event");
    expect(Date.parse((await lastUsed(b))!)).toBeLessThanOrEqual(Date.now());
  });

  it('prunes remembered event ids older than USAGE_DEDUPE_DAYS', async () => {
    const orgId = randomUUID();
    await producer.add(Array.from({ length: 5 }, () => usageEvent({ orgId })));
    await producer.drained();
    const ids = (await api.prisma.db.usageEventSeen.findMany({ where: { orgId } })).map((r) => r.id);
    await api.prisma.db.usageEventSeen.updateMany({
      where: { id: { in: ids.slice(0, 3) } },
      data: { seenAt: new Date(Date.now() - 8 * 86_400_000) },
    });
    await api.prisma.db.usageEventSeen.updateMany({
      where: { id: { in: ids.slice(3) } },
      data: { seenAt: new Date(Date.now() - 6 * 86_400_000) },
    });
    const removed = await worker.get(UsageConsumer).prune();
    expect(removed).toBeGreaterThanOrEqual(3);
    expect((await api.prisma.db.usageEventSeen.findMany({ where: { orgId } })).map((r) => r.id).sort()).toEqual(ids.slice(3).sort());
  });
});
