import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import { redisKeys } from '@toolgate/contracts';
import { type Api, expectProblem, startApi } from '../../../test/harness';
import { monthOf } from './usage.rules';
import { queuePrefix, startTestWorker, UsageProducer, usageEvent, waitFor } from './usage.test-fixtures';
import { type Team, team } from '../members/members.fixtures';

jest.setTimeout(60_000);

/** A customer's alert receiver: records requests, answers with the next scripted reply. */
class Receiver {
  readonly received: Array<{ headers: IncomingMessage['headers']; body: Record<string, unknown> }> = [];
  /** Replies for the next requests: a status, or 'hang' (never answer). Then 200. */
  script: Array<number | 'hang'> = [];
  private server: Server | null = null;
  private readonly hung: ServerResponse[] = [];
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body: JSON.parse(body) });
        const reply = this.script.shift() ?? 200;
        if (reply === 'hang') this.hung.push(res);
        else res.writeHead(reply).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/toolgate-alerts`;
    return this;
  }

  async stop(): Promise<void> {
    for (const r of this.hung) r.socket?.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

describe('monthly quotas: alerts at 80% and 100%', () => {
  let api: Api;
  let worker: INestApplicationContext;
  let producer: UsageProducer;
  let receiver: Receiver;
  let t: Team;

  beforeAll(async () => {
    api = await startApi();
    const prefix = queuePrefix();
    producer = new UsageProducer(prefix);
    worker = await startTestWorker({
      QUEUE_PREFIX: prefix,
      USAGE_BATCH_WAIT_MS: '10',
      QUOTA_ALERT_RETRY_MS: '50',
      QUOTA_ALERT_MAX_ATTEMPTS: '3',
      QUOTA_ALERT_TIMEOUT_MS: '300',
    });
    receiver = await new Receiver().start();
  });
  afterAll(async () => {
    await worker.close();
    await producer.close();
    await receiver.stop();
    await api.close();
  });
  beforeEach(async () => {
    t = await team(api, 'quota');
    receiver.received.length = 0;
    receiver.script = [];
  });

  /** The owner sets the quota the way the dashboard does (it is published in the snapshot). */
  const setQuota = (quota: number | null) =>
    api.req().patch(`/v1/orgs/${t.org.slug}`).set(t.owner.auth).send({ monthlyCallQuota: quota }).expect(200);
  const setHook = (url: string | null) =>
    api.req().patch(`/v1/orgs/${t.org.slug}/billing`).set(t.billing.auth).send({ alertWebhookUrl: url }).expect(200);
  const calls = async (n: number, extra: Partial<Parameters<typeof usageEvent>[0]> = {}) => {
    await producer.add(Array.from({ length: n }, () => usageEvent({ orgId: t.org.id, ...extra })));
    await producer.drained();
  };
  const alerts = () => api.prisma.db.quotaAlert.findMany({ where: { orgId: t.org.id }, orderBy: { threshold: 'asc' } });

  it('records one alert per threshold, POSTs each to the webhook, and shows them to the dashboard', async () => {
    await setQuota(10);
    await setHook(receiver.url);
    const period = monthOf(new Date());

    await calls(7);
    // Denied calls and non-call traffic do not count toward the quota.
    await calls(5, { decision: 'quota_exceeded', outcome: 'denied' });
    await calls(5, { method: 'tools/list', target: null });
    expect(await alerts()).toEqual([]);

    await calls(1);
    await waitFor(() => receiver.received.length === 1, 5000, 'the 80% webhook');
    await calls(2);
    await waitFor(() => receiver.received.length === 2, 5000, 'the 100% webhook');
    // Past the cap: nothing new (one alert per org, month and threshold).
    await calls(4);
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.received).toHaveLength(2);

    const rows = await alerts();
    expect(rows.map((a) => [a.period, a.threshold, a.calls, a.deliveryStatus, a.deliveryAttempts])).toEqual([
      [period, 80, 8, 'delivered', 1],
      [period, 100, 10, 'delivered', 1],
    ]);
    const [first] = receiver.received;
    expect(first!.headers).toMatchObject({ 'content-type': 'application/json', 'toolgate-alert-id': rows[0]!.id });
    expect(first!.body).toEqual({
      type: 'quota.threshold_reached',
      id: rows[0]!.id,
      org: { id: t.org.id, slug: t.org.slug, name: `Org ${t.org.slug}` },
      period,
      threshold: 80,
      calls: 8,
      quota: 10,
      createdAt: rows[0]!.createdAt.toISOString(),
    });

    // The gateway's counter has been raised to the rolled-up total.
    expect(Number(await api.redis.client.get(redisKeys.quota(t.org.id, period)))).toBe(14);
    expect(await api.redis.client.ttl(redisKeys.quota(t.org.id, period))).toBeGreaterThan(7 * 86_400);

    // What the dashboard shows; every member may read it.
    for (const u of [t.owner, t.admin, t.member, t.billing]) {
      const res = await api.req().get(`/v1/orgs/${t.org.slug}/usage/alerts`).set(u.auth).expect(200);
      expect(res.body.current).toMatchObject({ period, quota: 10, used: 14, percent: 140 });
      expect(res.body.items.map((a: { threshold: number; delivery: { status: string } }) => [a.threshold, a.delivery.status])).toEqual([
        [100, 'delivered'],
        [80, 'delivered'],
      ]);
    }
    expectProblem(await api.req().get(`/v1/orgs/${t.org.slug}/usage/alerts`).set(t.stranger.auth), 404, 'not_found');
  });

  it('never lowers the gateway’s counter', async () => {
    await setQuota(100);
    const key = redisKeys.quota(t.org.id, monthOf(new Date()));
    await api.redis.client.set(key, 50, 'EX', 3600);
    await calls(3);
    // The raise happens right after the batch is acknowledged: give it the time to.
    await new Promise((r) => setTimeout(r, 300));
    expect(Number(await api.redis.client.get(key))).toBe(50);
  });

  it('retries a failing webhook with backoff until it is delivered', async () => {
    await setQuota(5);
    await setHook(receiver.url);
    receiver.script = [500, 'hang'];
    await calls(4);
    await waitFor(async () => (await alerts())[0]?.deliveryStatus === 'delivered', 10_000, 'delivery after retries');
    const [a] = await alerts();
    expect(a).toMatchObject({ threshold: 80, deliveryAttempts: 3, lastError: null, deliveredAt: expect.any(Date) });
    expect(receiver.received.map((r) => r.body.id)).toEqual([a!.id, a!.id, a!.id]);
  });

  it('gives up after QUOTA_ALERT_MAX_ATTEMPTS and keeps the alert for the dashboard', async () => {
    await setQuota(5);
    await setHook(receiver.url);
    receiver.script = Array(6).fill(503);
    await calls(5);
    await waitFor(
      async () => {
        const rows = await alerts();
        return rows.length === 2 && rows.every((a) => a.deliveryStatus === 'failed');
      },
      10_000,
      'delivery to fail',
    );
    const rows = await alerts();
    expect(rows.map((a) => [a.threshold, a.deliveryStatus, a.deliveryAttempts, a.lastError])).toEqual([
      [80, 'failed', 3, 'HTTP 503'],
      [100, 'failed', 3, 'HTTP 503'],
    ]);
    const res = await api.req().get(`/v1/orgs/${t.org.slug}/usage/alerts`).set(t.owner.auth).expect(200);
    expect(res.body.items[0].delivery).toMatchObject({ status: 'failed', attempts: 3, lastError: 'HTTP 503', nextAttemptAt: null });
  });

  it('without a webhook URL the alert is recorded only; without a quota there are no alerts', async () => {
    await setQuota(2);
    await calls(2);
    await waitFor(async () => (await alerts()).length === 2, 5000, 'the alerts');
    expect((await alerts()).map((a) => [a.threshold, a.deliveryStatus])).toEqual([
      [80, 'none'],
      [100, 'none'],
    ]);
    await setQuota(null);
    const other = await team(api, 'noquota');
    await producer.add(Array.from({ length: 50 }, () => usageEvent({ orgId: other.org.id })));
    await producer.drained();
    expect(await api.prisma.db.quotaAlert.count({ where: { orgId: other.org.id } })).toBe(0);
    const res = await api.req().get(`/v1/orgs/${other.org.slug}/usage/alerts`).set(other.owner.auth).expect(200);
    expect(res.body.current).toMatchObject({ quota: null, used: 50, percent: null });
  });

  it('counts late events toward the month they happened in', async () => {
    await setQuota(3);
    const lastMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 0, 12));
    await calls(3, { at: lastMonth.toISOString() });
    // Alerts are checked right after the batch is acknowledged.
    await waitFor(async () => (await alerts()).length === 2, 5000, 'the alerts');
    expect((await alerts()).map((a) => [a.period, a.threshold])).toEqual([
      [monthOf(lastMonth), 80],
      [monthOf(lastMonth), 100],
    ]);
  });
});

describe('quota alert webhooks in production', () => {
  it('refuses to deliver to an internal address, without retrying', async () => {
    // Its own API and worker: no test-mode worker may pick the alert up meanwhile.
    const api = await startApi();
    const prefix = queuePrefix();
    const producer = new UsageProducer(prefix);
    const worker = await startTestWorker({
      NODE_ENV: 'production',
      QUEUE_PREFIX: prefix,
      USAGE_BATCH_WAIT_MS: '10',
      QUOTA_ALERT_RETRY_MS: '50',
    });
    const receiver = await new Receiver().start();
    try {
      const t = await team(api, 'prod');
      await api.req().patch(`/v1/orgs/${t.org.slug}`).set(t.owner.auth).send({ monthlyCallQuota: 1 }).expect(200);
      await api.req().patch(`/v1/orgs/${t.org.slug}/billing`).set(t.owner.auth).send({ alertWebhookUrl: receiver.url }).expect(200);
      await producer.add([usageEvent({ orgId: t.org.id })]);
      await producer.drained();
      const alerts = () => api.prisma.db.quotaAlert.findMany({ where: { orgId: t.org.id } });
      await waitFor(
        async () => {
          const rows = await alerts();
          return rows.length === 2 && rows.every((a) => a.deliveryStatus === 'failed');
        },
        5000,
        'delivery to be refused',
      );
      for (const a of await alerts()) {
        expect(a).toMatchObject({ deliveryAttempts: 1, lastError: expect.stringContaining('internal address (127.0.0.1)') });
      }
      expect(receiver.received).toHaveLength(0);
    } finally {
      await worker.close();
      await producer.close();
      await receiver.stop();
      await api.close();
    }
  });
});
