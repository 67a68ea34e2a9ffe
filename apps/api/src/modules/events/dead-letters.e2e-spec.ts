import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { QueueName } from '@toolgate/contracts';
import { Queue } from 'bullmq';
import { type Api, expectProblem, signup, startApi } from '../../../test/harness';
import { queuePrefix, startTestWorker, UsageProducer, usageEvent, waitFor } from '../usage/usage.test-fixtures';
import { type DeadLetter, DeadLetterQueue } from './dead-letter';

jest.setTimeout(60_000);

const OPERATOR_TOKEN = 'op-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a';

describe('dead letters: re-drives, the operator action and the backlog metric', () => {
  let api: Api;
  let prefix: string;
  let producer: UsageProducer;
  let parking: DeadLetterQueue;
  let dlq: Queue<DeadLetter>;
  const workers: INestApplicationContext[] = [];

  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  beforeEach(() => {
    prefix = queuePrefix();
    producer = new UsageProducer(prefix);
    parking = new DeadLetterQueue(producer.connection, prefix);
    dlq = new Queue(QueueName.DeadLetter, { connection: producer.connection, prefix });
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close();
    await dlq.obliterate({ force: true }).catch(() => undefined);
    await dlq.close();
    await parking.close();
    await producer.close();
  });

  const counted = (orgId: string) => api.prisma.db.usageEventSeen.count({ where: { orgId } });
  const calls = async (orgId: string) =>
    (await api.prisma.db.usageHourly.aggregate({ where: { orgId }, _sum: { calls: true } }))._sum.calls ?? 0;
  const letter = (jobId: string, data: unknown, over: Partial<DeadLetter> = {}) =>
    parking.add({
      queue: QueueName.Usage,
      jobId,
      data,
      error: 'Error: lost in an old outage',
      reason: 'exhausted',
      attemptsMade: 10,
      ...over,
    });
  const parkedIds = async () => (await dlq.getJobs(['waiting'])).map((j) => j.id).sort();

  async function worker(env: Record<string, string> = {}) {
    const w = await startTestWorker({ QUEUE_PREFIX: prefix, USAGE_BATCH_WAIT_MS: '20', ...env });
    workers.push(w);
    return w;
  }

  it('re-drives exhausted letters automatically after their backoff, without counting any event twice', async () => {
    const orgId = randomUUID();
    const [e1, e2, e3, e4] = Array.from({ length: 4 }, () => usageEvent({ orgId }));
    await worker({ DEAD_LETTER_REDRIVE_INTERVAL_MS: '100', DEAD_LETTER_REDRIVE_BASE_MS: '2000', DEAD_LETTER_REDRIVE_MAX: '2' });
    // e1 was stored before its letter was parked (a job dead-lettered whole after a partial write).
    await producer.add([e1!]);
    await waitFor(async () => (await counted(orgId)) === 1, 10_000, 'e1 stored');

    await letter('lost-1.0', e1);
    await letter('lost-1.1', e2);
    await letter('lost-2', { schemaVersion: 1, events: [e3, e1] });
    await letter('bad', { not: 'an event' }, { reason: 'invalid' });
    await letter('tired', e4, { redrives: 2 });
    // Not before the backoff.
    await new Promise((r) => setTimeout(r, 500));
    expect(await parkedIds()).toHaveLength(5);

    await waitFor(async () => (await counted(orgId)) === 3, 15_000, 'e2 and e3 re-driven and stored');
    await producer.drained();
    expect(await calls(orgId)).toBe(3);
    // Invalid and past the automatic budget: left to an operator.
    expect(await parkedIds()).toEqual(['tg-usage-bad', 'tg-usage-tired']);
    const redriven = await producer.queue.getJobs(['completed']);
    expect(
      redriven
        .map((j) => j.name)
        .filter((n) => n.startsWith('redrive:'))
        .sort(),
    ).toEqual(['redrive:1:lost-1.0', 'redrive:1:lost-1.1', 'redrive:1:lost-2']);
  });

  it('the operator re-drives now (OPERATOR_TOKEN, not an org role); the backlog gauge follows', async () => {
    const orgId = randomUUID();
    const [e5, e6] = [usageEvent({ orgId }), usageEvent({ orgId })];
    const ops = await startApi({ QUEUE_PREFIX: prefix, OPERATOR_TOKEN });
    try {
      const backlog = async () => {
        const text = (await ops.req().get('/metrics').expect(200)).text;
        return Number(/^toolgate_dead_letter_backlog (\d+)$/m.exec(text)?.[1]);
      };
      const redrive = (body: object, auth = `Bearer ${OPERATOR_TOKEN}`) =>
        ops.req().post('/v1/ops/dead-letters/redrive').set('Authorization', auth).send(body);

      await letter('op-1', e5);
      await letter('op-2', e6, { redrives: 6 });
      await letter('op-bad', { not: 'an event' }, { reason: 'invalid' });
      // Older than USAGE_DEDUPE_DAYS: the consumer may have forgotten it stored it, so it stays.
      await letter('op-old', usageEvent({ orgId, at: new Date(Date.now() - 8 * 86_400_000).toISOString() }));
      expect(await backlog()).toBe(4);

      // No token, a wrong one, or an org owner's access token: refused, nothing moves.
      const owner = await signup(ops, 'ops');
      expectProblem(await redrive({}, ''), 401, 'unauthenticated');
      expectProblem(await redrive({}, `Bearer ${OPERATOR_TOKEN}x`), 401, 'unauthenticated');
      expectProblem(await redrive({}, owner.auth.Authorization), 401, 'unauthenticated');
      expectProblem(await redrive({ queue: 'tg-nope' }), 400, 'validation_failed');
      expect(await backlog()).toBe(4);

      // Exhausted letters, whatever their automatic budget; the invalid one and the old one stay.
      expect((await redrive({}).expect(200)).body).toEqual({ redriven: 2, kept: 2 });
      expect(await backlog()).toBe(2);
      await worker({ DEAD_LETTER_REDRIVE_INTERVAL_MS: '0' });
      await waitFor(async () => (await counted(orgId)) === 2, 15_000, 'the re-driven events stored');
      expect((await redrive({}).expect(200)).body).toEqual({ redriven: 0, kept: 2 });

      // Asked for, an invalid letter is re-validated: still invalid, it is parked again, same id, one re-drive more.
      expect((await redrive({ queue: 'tg-usage', includeInvalid: true }).expect(200)).body).toEqual({ redriven: 1, kept: 1 });
      await waitFor(async () => (await parkedIds()).length === 2, 10_000, 'the invalid letter parked again');
      const again = await dlq.getJob('tg-usage-op-bad');
      expect({ id: again!.id, reason: again!.data.reason, redrives: again!.data.redrives }).toEqual({
        id: 'tg-usage-op-bad',
        reason: 'invalid',
        redrives: 1,
      });
      expect(await backlog()).toBe(2);
      await producer.drained();
      expect(await calls(orgId)).toBe(2);
    } finally {
      await ops.close();
    }
  });

  it('without OPERATOR_TOKEN the operator routes do not exist', async () => {
    const res = await api.req().post('/v1/ops/dead-letters/redrive').set('Authorization', `Bearer ${OPERATOR_TOKEN}`).send({});
    expectProblem(res, 404, 'not_found');
  });
});
