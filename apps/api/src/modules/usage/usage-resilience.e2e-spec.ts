import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type Api, startApi } from '../../../test/harness';
import { exited, sendUntilTaken, startPrivateRedis } from '../../../test/private-redis';
import { queuePrefix, spawnWorker, startTestWorker, UsageProducer, usageEvent, waitFor } from './usage.test-fixtures';

jest.setTimeout(120_000);

const seen = (api: Api, orgId: string) => api.prisma.db.usageEventSeen.count({ where: { orgId } });
const calls = async (api: Api, orgId: string) =>
  (await api.prisma.db.usageHourly.aggregate({ where: { orgId }, _sum: { calls: true } }))._sum.calls ?? 0;

describe('tg-usage consumer resilience', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  it('counts every event exactly once when the worker process is killed mid-batch and restarted', async () => {
    const orgId = randomUUID();
    const prefix = queuePrefix();
    const producer = new UsageProducer(prefix);
    const total = 6000;
    const env = { QUEUE_PREFIX: prefix, USAGE_BATCH_SIZE: '500', USAGE_LOCK_MS: '1500', NODE_ENV: 'test' };
    const children: ChildProcess[] = [];
    try {
      // One event per job: acknowledging a batch's 500 jobs takes long enough for the kill below to
      // land between the commit and the acknowledgements (with full jobs it is a handful of calls).
      await producer.add(
        Array.from({ length: total }, (_, i) => usageEvent({ orgId, keyId: `k${i % 7}`, target: `t${i % 3}` })),
        { perJob: 1 },
      );

      // 1st worker: SIGKILL right after a batch committed, before it acknowledged the jobs. Not the
      // first batches: a worker starts by holding few jobs (sized for full 64-event jobs) and
      // takes more as it sees one-event jobs, so its first batches are acknowledged in a few
      // calls; past 1,000 events its batches are full (500 jobs), whose acknowledgements take long
      // enough for the kill to land among them.
      const first = spawnWorker(env);
      children.push(first.child);
      await first.ready;
      await waitFor(async () => (await seen(api, orgId)) >= 1000, 30_000, 'full batches committed');
      first.child.kill('SIGKILL');
      await exited(first.child);
      const committed = await seen(api, orgId);
      const acknowledged = (await producer.queue.getJobs(['completed'])).reduce((n, j) => n + j.data.events.length, 0);
      // The kill landed between the commit and the acknowledgements: those events will be redelivered.
      expect(committed).toBeGreaterThan(acknowledged);
      expect(committed).toBeLessThan(total);

      // 2nd worker: killed at an arbitrary moment (possibly mid-transaction).
      const second = spawnWorker(env);
      children.push(second.child);
      await second.ready;
      await waitFor(async () => (await seen(api, orgId)) > committed, 30_000, 'progress of the second worker');
      await new Promise((r) => setTimeout(r, 37));
      second.child.kill('SIGKILL');
      await exited(second.child);

      // 3rd worker: takes over the stalled jobs and finishes.
      const third = spawnWorker(env);
      children.push(third.child);
      await third.ready;
      await producer.drained(60_000);

      expect(await seen(api, orgId)).toBe(total);
      expect(await calls(api, orgId)).toBe(total);
      const rows = await api.prisma.db.usageHourly.findMany({ where: { orgId } });
      // 7 keys × 3 tools (× the hours the run spanned), each with exactly its share.
      const perCombo = new Map<string, number>();
      for (const r of rows) perCombo.set(`${r.keyId}|${r.target}`, (perCombo.get(`${r.keyId}|${r.target}`) ?? 0) + r.calls);
      expect(perCombo.size).toBe(21);
      for (let i = 0; i < 21; i++) {
        const expected = Array.from({ length: total }, (_, j) => j).filter((j) => j % 7 === i % 7 && j % 3 === i % 3).length;
        expect(perCombo.get(`k${i % 7}|t${i % 3}`)).toBe(expected);
      }
      // Nothing failed or is left over (completed jobs are trimmed to the catalog's removeOnComplete).
      const c = await producer.counts();
      expect({ waiting: c.waiting, active: c.active, delayed: c.delayed, failed: c.failed }).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        failed: 0,
      });
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await producer.close();
    }
  });

  it('loses nothing when Redis restarts while events flow; the consumer resumes on its own', async () => {
    // A private Redis (append-only file: a restart keeps the queue, as production Redis must).
    const redis = await startPrivateRedis();
    const redisUrl = redis.url;
    const prefix = queuePrefix();
    const producer = new UsageProducer(prefix, redisUrl);
    const orgId = randomUUID();
    let worker: Awaited<ReturnType<typeof startTestWorker>> | null = null;
    try {
      worker = await startTestWorker({ QUEUE_PREFIX: prefix, REDIS_URL: redisUrl, USAGE_BATCH_SIZE: '100', USAGE_LOCK_MS: '1500' });

      // The producer plays the gateway: batches every few ms; a batch Redis does not take is kept and re-sent.
      let produced = 0;
      let stop = false;
      const flow = (async () => {
        while (!stop) {
          const batch = Array.from({ length: 25 }, () => usageEvent({ orgId }));
          await sendUntilTaken(() => producer.add(batch));
          produced += batch.length;
          await new Promise((r) => setTimeout(r, 5));
        }
      })();

      await waitFor(async () => (await calls(api, orgId)) > 200, 20_000, 'events to flow');
      await redis.stop();
      const duringOutage = produced;
      await new Promise((r) => setTimeout(r, 1500));
      await redis.restart();
      await waitFor(async () => produced > duringOutage + 200, 20_000, 'the flow to resume after the restart');
      stop = true;
      await flow;

      await producer.drained(60_000);
      await waitFor(async () => (await calls(api, orgId)) === produced, 20_000, `all ${produced} events counted`);
      expect(await seen(api, orgId)).toBe(produced);
      expect((await producer.counts()).failed).toBe(0);
    } finally {
      await worker?.close();
      await producer.close().catch(() => undefined);
      await redis.close();
    }
  });

  /** Rolls `total` events (`perJob` a job) up with a worker started on a full queue; returns events per second. */
  async function rollupRate(total: number, env: Record<string, string> = {}, perJob?: number): Promise<number> {
    const prefix = queuePrefix();
    const producer = new UsageProducer(prefix);
    const orgIds = Array.from({ length: 4 }, () => randomUUID());
    await producer.add(
      Array.from({ length: total }, (_, i) =>
        usageEvent({ orgId: orgIds[i % 4]!, keyId: `k${i % 5}`, serverId: `s${i % 3}`, target: `t${i % 11}` }),
      ),
      { perJob },
    );
    const started = performance.now();
    const worker = await startTestWorker({ QUEUE_PREFIX: prefix, ...env });
    try {
      await producer.drained(120_000);
      const seconds = (performance.now() - started) / 1000;
      let sum = 0;
      for (const o of orgIds) sum += await calls(api, o);
      expect(sum).toBe(total);
      return Math.round(total / seconds);
    } finally {
      await worker.close();
      await producer.close();
    }
  }

  it('keeps up: batched roll-ups are several times faster than one event per statement (same machine, same run)', async () => {
    // An absolute floor would fail on a busy CI box; a ratio measured side by side does not.
    // `pnpm bench --targets events` measures it against the gateway's real peak.
    const single = await rollupRate(1_000, { USAGE_BATCH_SIZE: '1' }, 1);
    const batched = await rollupRate(20_000);
    console.log(`usage consumer: ${batched} events/s batched vs ${single} events/s one per batch (${(batched / single).toFixed(1)}×)`);
    expect(batched).toBeGreaterThan(3 * single);
  });
});
