import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { QueueName } from '@toolgate/contracts';
import { Queue } from 'bullmq';
import { type Api, startApi } from '../../../test/harness';
import { exited } from '../../../test/private-redis';
import { startTcpProxy, type TcpProxy } from '../../../test/tcp-proxy';
import { AuditProducer, auditEvent } from '../audit/audit.test-fixtures';
import { AuditVerifier } from '../audit/audit.verify';
import { FAST_RETRY, queuePrefix, spawnWorker, startTestWorker, UsageProducer, usageEvent, waitFor } from '../usage/usage.test-fixtures';

jest.setTimeout(90_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Consumers under dependency outages, with the worker as production runs it (a child process,
 * whose log is read) and its database behind a TCP proxy the test takes down and brings back.
 */
describe('event consumers during a database outage', () => {
  let api: Api;
  let proxy: TcpProxy;
  let prefix: string;
  let producer: UsageProducer;
  let dlq: Queue;
  const children: ChildProcess[] = [];
  const inProcess: INestApplicationContext[] = [];

  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  beforeEach(async () => {
    proxy = await startTcpProxy(Number(new URL(process.env.DATABASE_URL!).port || 5432));
    prefix = queuePrefix();
    producer = new UsageProducer(prefix);
    dlq = new Queue(QueueName.DeadLetter, { connection: producer.connection, prefix });
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const w of inProcess.splice(0)) await w.close();
    await proxy.close();
    await dlq.obliterate({ force: true }).catch(() => undefined);
    await dlq.close();
    await producer.close();
  });

  /** The worker process, its database reached through the proxy. */
  async function spawnProxiedWorker(env: Record<string, string> = {}) {
    const w = spawnWorker({
      QUEUE_PREFIX: prefix,
      DATABASE_URL: proxy.via(process.env.DATABASE_URL!),
      OUTAGE_PROBE_BASE_MS: '50',
      OUTAGE_PROBE_MAX_MS: '400',
      USAGE_BATCH_WAIT_MS: '20',
      ...env,
    });
    children.push(w.child);
    await w.ready;
    return w;
  }

  const counted = async (orgId: string) => api.prisma.db.usageEventSeen.count({ where: { orgId } });
  const calls = async (orgId: string) =>
    (await api.prisma.db.usageHourly.aggregate({ where: { orgId }, _sum: { calls: true } }))._sum.calls ?? 0;
  const appended = (orgIds: string[]) => api.prisma.db.auditEvent.count({ where: { orgId: { in: orgIds } } });
  const jobsIn = (...states: Array<'active' | 'waiting' | 'completed' | 'failed' | 'delayed'>) => producer.queue.getJobs(states, 0, -1);

  it('pauses for an outage longer than the retry budget, spends no attempt, counts every event once; only the poison event is dead-lettered', async () => {
    const orgId = randomUUID();
    // A short lock: the outage lasts twice as long, and the held jobs must keep their locks
    // throughout (renewed every half lock: long enough that a loaded machine still renews in time).
    const worker = await spawnProxiedWorker({ USAGE_LOCK_MS: '2500' });
    await producer.add(Array.from({ length: 300 }, () => usageEvent({ orgId })));
    await waitFor(async () => (await counted(orgId)) === 300, 20_000, 'events before the outage');

    await proxy.stop();
    const poison = { ...usageEvent({ orgId }), durationMs: -1 };
    await producer.add([
      ...Array.from({ length: 300 }, () => usageEvent({ orgId })),
      poison,
      ...Array.from({ length: 300 }, () => usageEvent({ orgId })),
    ]);
    // The test jobs' whole retry budget is 3 attempts 100 ms apart; the outage lasts 30 times that.
    await waitFor(() => worker.output().includes('database unreachable, pausing'), 10_000, 'the consumer to pause');
    await sleep(5000);
    const during = await jobsIn('active', 'waiting', 'delayed', 'failed');
    expect(during.filter((j) => j.attemptsMade > 0)).toEqual([]);
    expect((await producer.counts()).failed).toBe(0);

    await proxy.start();
    await producer.drained(30_000);
    expect(await counted(orgId)).toBe(900);
    expect(await calls(orgId)).toBe(900);
    const done = await jobsIn('completed', 'failed');
    // BullMQ counts the attempt that completed a job: one each, none spent on the outage.
    expect(done.filter((j) => j.attemptsMade !== 1 || j.failedReason || (j.finishedOn ?? 0) === 0)).toEqual([]);
    expect(done.filter((j) => j.stalledCounter > 0)).toEqual([]);
    const letters = await dlq.getJobs(['waiting']);
    expect(letters.map((l) => ({ reason: l.data.reason, data: l.data.data }))).toEqual([{ reason: 'invalid', data: poison }]);

    const log = worker.output();
    expect(log).toMatch(/tg-usage: database unreachable, pausing until it is back: \w+( \w+)?: \S/);
    expect(log).toMatch(/tg-usage: database is back after \d+ s, resuming/);
  });

  it('the audit chain under the same outage: every event appended once, the chain intact, no attempt spent', async () => {
    const audit = new AuditProducer(prefix);
    try {
      const orgs = [randomUUID(), randomUUID()];
      const fast = { jobOptions: { ...FAST_RETRY } };
      const events = (n: number) => Array.from({ length: n }, (_, i) => auditEvent({ orgId: orgs[i % 2]! }));
      const worker = await spawnProxiedWorker({ AUDIT_BATCH_WAIT_MS: '20' });
      await audit.add(events(200), fast);
      await waitFor(async () => (await appended(orgs)) === 200, 20_000, 'events before the outage');

      await proxy.stop();
      await audit.add(events(400), fast);
      await waitFor(() => worker.output().includes('tg-audit: database unreachable, pausing'), 10_000, 'the audit consumer to pause');
      await sleep(2000);
      expect((await audit.queue.getJobs(['active', 'waiting', 'delayed', 'failed'], 0, -1)).filter((j) => j.attemptsMade > 0)).toEqual([]);

      await proxy.start();
      await audit.drained(30_000);
      expect(await appended(orgs)).toBe(600);
      const verifier = api.app.get(AuditVerifier);
      for (const orgId of orgs) {
        const seqs = (await api.prisma.db.auditEvent.findMany({ where: { orgId }, select: { seq: true }, orderBy: { seq: 'asc' } })).map(
          (r) => Number(r.seq),
        );
        expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
        await expect(verifier.verify(orgId)).resolves.toMatchObject({ valid: true });
      }
      expect((await audit.counts()).failed).toBe(0);
      expect(await audit.dlq.count()).toBe(0);
    } finally {
      await audit.close();
    }
  });

  it('retry warnings always name the error class and message', async () => {
    const orgId = randomUUID();
    const bad = usageEvent({ orgId });
    await api.prisma.db.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION tg_test_refuse_retry() RETURNS trigger AS $$
      BEGIN IF NEW.id = '${bad.id}' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await api.prisma.db.$executeRawUnsafe(
      `CREATE TRIGGER tg_test_refuse_retry BEFORE INSERT ON "UsageEventSeen" FOR EACH ROW EXECUTE FUNCTION tg_test_refuse_retry()`,
    );
    try {
      const worker = await spawnProxiedWorker();
      await producer.add([usageEvent({ orgId }), bad, usageEvent({ orgId })]);
      await waitFor(async () => (await dlq.getWaitingCount()) === 1, 20_000, 'the refused event dead-lettered');
      const warnings = worker
        .output()
        .split('\n')
        .filter((l) => l.includes('will retry'));
      expect(warnings.length).toBe(2);
      for (const w of warnings) expect(w).toMatch(/will retry: PrismaClientKnownRequestError P\d{4}: .*refused for the test/);
      const [letter] = await dlq.getJobs(['waiting']);
      expect(letter!.data.error).toMatch(/^PrismaClientKnownRequestError P\d{4}: .*refused for the test/);
    } finally {
      await api.prisma.db.$executeRawUnsafe(`DROP TRIGGER IF EXISTS tg_test_refuse_retry ON "UsageEventSeen"`);
    }
    expect(await counted(orgId)).toBe(2);
  });

  it("redelivers a killed worker's jobs within seconds (default lock), not ~55 s", async () => {
    const orgId = randomUUID();
    // Default USAGE_LOCK_MS. The database is down, so the worker takes jobs and holds them.
    const doomed = await spawnProxiedWorker();
    await proxy.stop();
    await producer.add(Array.from({ length: 200 }, () => usageEvent({ orgId })));
    await waitFor(async () => (await producer.counts()).active > 0, 10_000, 'jobs held by the worker');
    await waitFor(() => doomed.output().includes('database unreachable, pausing'), 10_000, 'the worker to pause');
    doomed.child.kill('SIGKILL');
    await exited(doomed.child);
    const killedAt = Date.now();

    // A replacement that reaches the database takes the dead worker's jobs once their locks lapse.
    inProcess.push(await startTestWorker({ QUEUE_PREFIX: prefix }));
    await waitFor(async () => (await counted(orgId)) === 200, 30_000, 'the held jobs redelivered');
    const seconds = (Date.now() - killedAt) / 1000;
    console.log(`killed worker's jobs redelivered and stored after ${seconds.toFixed(1)} s`);
    // 5 s lock + 1 s stalled check, with room for a busy machine; the old settings took 30–60 s.
    expect(seconds).toBeLessThan(12);
    await producer.drained();
    expect(await calls(orgId)).toBe(200);
  });
});
