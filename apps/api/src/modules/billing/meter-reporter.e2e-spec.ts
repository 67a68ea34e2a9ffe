import type { INestApplicationContext } from '@nestjs/common';
import { type Api, createOrg, signup, startApi } from '../../../test/harness';
import { type StripeFake, startStripeFake } from '../../../test/fixtures/stripe-fake';
import { startTcpProxy } from '../../../test/tcp-proxy';
import { hourStart } from '../usage/usage.rules';
import { HOUR, queuePrefix, seedHourly, startTestWorker, UsageProducer, usageEvent, waitFor } from '../usage/usage.test-fixtures';
import { MeterReporter } from './meter-reporter';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Stripe meter reporting (worker)', () => {
  let fake: StripeFake;
  let api: Api;
  let worker: INestApplicationContext;
  let reporter: MeterReporter;
  let prefix: string;
  const workerEnv = () => ({
    ...fake.env(),
    QUEUE_PREFIX: prefix,
    METER_GRACE_MS: '0',
    // Passes are driven by the tests.
    METER_REPORT_INTERVAL_MS: '3600000',
    // Long enough that "an immediate pass" stays immediate on a loaded machine.
    METER_RETRY_BASE_MS: '1000',
    METER_MAX_ATTEMPTS: '4',
    STRIPE_MAX_NETWORK_RETRIES: '0',
    STRIPE_TIMEOUT_MS: '400',
    OUTAGE_PROBE_BASE_MS: '50',
    OUTAGE_PROBE_MAX_MS: '200',
  });

  beforeAll(async () => {
    fake = await startStripeFake();
    api = await startApi(fake.env());
    prefix = queuePrefix();
    worker = await startTestWorker(workerEnv());
    reporter = worker.get(MeterReporter);
  });
  afterAll(async () => {
    fake.releaseHung();
    await worker.close();
    await api.close();
    await fake.stop();
  });

  const H = () => hourStart(new Date());

  /** An org with billing enabled whose metering started `hoursAgo` (+30 min) hours ago. */
  async function billedOrg(hoursAgo = 6) {
    const owner = await signup(api, 'meter');
    const org = await createOrg(api, owner);
    const res = await api.req().post(`/v1/orgs/${org.slug}/billing/enable`).set(owner.auth).expect(200);
    const meteringStartedAt = new Date(H().getTime() - hoursAgo * HOUR + 30 * 60_000);
    await api.prisma.db.billingAccount.update({ where: { orgId: org.id }, data: { meteringStartedAt } });
    return { org, owner, customer: res.body.stripeCustomerId as string, meteringStartedAt };
  }

  /** Faults only for this org's reports (other specs may leave billed orgs in the database). */
  const mine = (orgId: string) => (params: Record<string, unknown>) => String(params.identifier).startsWith(orgId);
  const eventsOf = (customer: string) => fake.meterEvents.filter((e) => e.customer === customer);
  const reports = (orgId: string) => api.prisma.db.meterReport.findMany({ where: { orgId }, orderBy: { hour: 'asc' } });
  const identifier = (orgId: string, hour: Date) => `${orgId}:${hour.toISOString()}`;

  /** Pass after pass (waiting out the backoff) until nothing is pending. */
  async function settle(maxPasses = 10) {
    for (let i = 0; i < maxPasses; i++) {
      await reporter.pass();
      if ((await api.prisma.db.meterReport.count({ where: { status: 'pending' } })) === 0) return;
      await sleep(120 * 2 ** i);
    }
  }

  it('reports each closed hour’s billable calls once, from when metering started', async () => {
    const { org, owner, customer, meteringStartedAt } = await billedOrg(4);
    const h = H();
    const at = (n: number) => new Date(h.getTime() - n * HOUR);
    await seedHourly(api, org.id, [
      { hour: at(6), calls: 1000 }, // before metering started: never billed
      { hour: at(4), keyId: 'a', calls: 30, denied: 5 }, // the hour metering started in
      { hour: at(4), keyId: 'b', calls: 10, errors: 3 }, // errors are still billed
      { hour: at(3), calls: 7 },
      { hour: at(2), calls: 9, denied: 9 }, // nothing billable
      { hour: at(1), calls: 1 },
      { hour: h, calls: 50 }, // the current hour is still open
    ]);
    // (Pass results count every org in the database; the assertions look at this org only.)
    await reporter.pass();

    expect(eventsOf(customer).map(({ identifier: id, value, timestamp, event_name }) => ({ id, value, timestamp, event_name }))).toEqual([
      { id: identifier(org.id, at(4)), value: 35, timestamp: Math.floor(meteringStartedAt.getTime() / 1000), event_name: 'toolgate_calls' },
      { id: identifier(org.id, at(3)), value: 7, timestamp: at(3).getTime() / 1000, event_name: 'toolgate_calls' },
      { id: identifier(org.id, at(1)), value: 1, timestamp: at(1).getTime() / 1000, event_name: 'toolgate_calls' },
    ]);
    for (const e of eventsOf(customer)) expect(e.idempotencyKey).toBe(`tg-meter-${e.identifier}`);
    expect((await reports(org.id)).map((r) => [r.hour.toISOString(), r.quantity, r.status, r.attempts])).toEqual([
      [at(4).toISOString(), 35, 'reported', 1],
      [at(3).toISOString(), 7, 'reported', 1],
      [at(1).toISOString(), 1, 'reported', 1],
    ]);

    // Later passes add nothing; the open hour is reported once it has closed.
    await reporter.pass();
    expect(eventsOf(customer)).toHaveLength(3);
    const later = new Date(h.getTime() + HOUR + 1000);
    await reporter.pass(later);
    expect(eventsOf(customer).at(-1)).toMatchObject({ identifier: identifier(org.id, h), value: 50 });
    expect(fake.duplicateIdentifiers).toEqual([]);

    const view = await api.req().get(`/v1/orgs/${org.slug}/billing`).set(owner.auth).expect(200);
    expect(view.body.meterReports).toMatchObject({ pending: 0, failed: 0, lastReportedHour: h.toISOString() });
  });

  it('retries a conflict (409, the report’s own attempt) with backoff and reports once', async () => {
    const { org, customer } = await billedOrg(2);
    await seedHourly(api, org.id, [{ hour: new Date(H().getTime() - HOUR), calls: 12 }]);
    fake.failNext(2, '/v1/billing/meter_events', { status: 409, where: mine(org.id) });
    await reporter.pass();
    const [pending] = await reports(org.id);
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, lastError: expect.stringContaining('409') });
    expect(pending!.nextAttemptAt.getTime()).toBeGreaterThan(Date.now());
    // Not due yet: an immediate pass leaves it alone.
    await reporter.pass();
    expect((await reports(org.id))[0]).toMatchObject({ status: 'pending', attempts: 1 });

    await settle();
    expect(await reports(org.id)).toEqual([expect.objectContaining({ status: 'reported', attempts: 3, lastError: null })]);
    expect(eventsOf(customer).map((e) => e.value)).toEqual([12]);
    expect(fake.requests.filter((r) => r.path === '/v1/billing/meter_events' && r.params.identifier === pending!.identifier)).toHaveLength(
      3,
    );
    expect(fake.duplicateIdentifiers).toEqual([]);
  });

  it('Stripe 5xx: reporting pauses and probes, no attempt is spent, each report is sent once it answers', async () => {
    const { org, customer } = await billedOrg(3);
    await seedHourly(api, org.id, [
      { hour: new Date(H().getTime() - 2 * HOUR), calls: 4 },
      { hour: new Date(H().getTime() - HOUR), calls: 6 },
    ]);
    // More failures than METER_MAX_ATTEMPTS (4): as attempts they would have failed the reports.
    fake.failNext(6, '/v1/billing/meter_events', { status: 503, where: mine(org.id) });
    await reporter.pass();
    expect(await reports(org.id)).toEqual([
      expect.objectContaining({ status: 'reported', attempts: 1, lastError: null }),
      expect.objectContaining({ status: 'reported', attempts: 1, lastError: null }),
    ]);
    expect(eventsOf(customer).map((e) => e.value)).toEqual([4, 6]);
    expect(fake.duplicateIdentifiers).toEqual([]);
  });

  it('Stripe unreachable for longer than the retry budget: nothing fails, each report is sent once it is back', async () => {
    const { org, customer } = await billedOrg(3);
    await seedHourly(api, org.id, [
      { hour: new Date(H().getTime() - 2 * HOUR), calls: 2 },
      { hour: new Date(H().getTime() - HOUR), calls: 3 },
    ]);
    const proxy = await startTcpProxy(Number(fake.env().STRIPE_API_PORT));
    const proxied = await startTestWorker({ ...workerEnv(), STRIPE_API_PORT: String(proxy.port) });
    try {
      await proxy.stop();
      const meter = proxied.get(MeterReporter);
      const pass = meter.pass();
      // The timer's passes keep coming (each one attempt apiece, were outages attempts): 8 of them,
      // twice METER_MAX_ATTEMPTS; the probes meanwhile fail every 200 ms at most.
      for (let i = 0; i < 8; i++) {
        await sleep(250);
        void meter.pass();
      }
      const during = await reports(org.id);
      expect(during.map((r) => [r.status, r.attempts <= 1])).toEqual([
        ['pending', true],
        ['pending', true],
      ]);
      await proxy.start();
      await pass;
    } finally {
      await proxied.close();
      await proxy.close();
    }
    expect(await reports(org.id)).toEqual([
      expect.objectContaining({ status: 'reported', attempts: 1 }),
      expect.objectContaining({ status: 'reported', attempts: 1 }),
    ]);
    expect(eventsOf(customer).map((e) => e.value)).toEqual([2, 3]);
    expect(fake.duplicateIdentifiers).toEqual([]);
  });

  it('a timeout after Stripe recorded the event: the probe is answered from the idempotency key, billed once', async () => {
    const { org, customer } = await billedOrg(2);
    await seedHourly(api, org.id, [{ hour: new Date(H().getTime() - HOUR), calls: 21 }]);
    fake.hangNext(1, '/v1/billing/meter_events', { afterProcessing: true, where: mine(org.id) });
    await reporter.pass();
    // A timeout is Stripe's, not the report's: no second attempt counted.
    const [r] = await reports(org.id);
    expect(r).toMatchObject({ status: 'reported', attempts: 1 });
    expect(eventsOf(customer).map((e) => e.value)).toEqual([21]);
    const sent = fake.requests.filter((q) => q.path === '/v1/billing/meter_events' && q.params.identifier === r!.identifier);
    expect(sent.map((q) => [q.idempotencyKey, q.replayed])).toEqual([
      [`tg-meter-${r!.identifier}`, false],
      [`tg-meter-${r!.identifier}`, true],
    ]);
    expect(fake.duplicateIdentifiers).toEqual([]);
    fake.releaseHung();
  });

  it('a timeout before Stripe saw the request: the probe records it, once', async () => {
    const { org, customer } = await billedOrg(2);
    await seedHourly(api, org.id, [{ hour: new Date(H().getTime() - HOUR), calls: 5 }]);
    fake.hangNext(1, '/v1/billing/meter_events', { afterProcessing: false, where: mine(org.id) });
    await reporter.pass();
    expect((await reports(org.id))[0]).toMatchObject({ status: 'reported', attempts: 1 });
    expect(eventsOf(customer).map((e) => e.value)).toEqual([5]);
    fake.releaseHung();
  });

  it('even with the idempotency key forgotten, the identifier keeps a resend from billing twice', async () => {
    const { org, customer } = await billedOrg(2);
    await seedHourly(api, org.id, [{ hour: new Date(H().getTime() - HOUR), calls: 8 }]);
    fake.hangNext(1, '/v1/billing/meter_events', { afterProcessing: true, where: mine(org.id) });
    const pass = reporter.pass();
    // Stripe recorded it and the answer is lost; its idempotency key is forgotten before the probe resends it.
    await waitFor(() => eventsOf(customer).length === 1, 5000, 'the event recorded');
    fake.forgetIdempotencyKeys();
    await pass;
    await settle();
    const [r] = await reports(org.id);
    expect(r).toMatchObject({ status: 'reported' });
    expect(eventsOf(customer).map((e) => e.value)).toEqual([8]);
    expect(fake.duplicateIdentifiers).toEqual([r!.identifier]);
    fake.duplicateIdentifiers.length = 0;
    fake.releaseHung();
  });

  it('marks a report Stripe refuses as failed at once, and never resends it', async () => {
    const { org, customer } = await billedOrg(2);
    await seedHourly(api, org.id, [{ hour: new Date(H().getTime() - HOUR), calls: 3 }]);
    fake.customers.delete(customer);
    await reporter.pass();
    const [r] = await reports(org.id);
    expect(r).toMatchObject({ status: 'failed', attempts: 1, lastError: expect.stringContaining('No such customer') });
    const sent = fake.count('POST', '/v1/billing/meter_events');
    await reporter.pass(new Date(Date.now() + HOUR));
    expect(fake.count('POST', '/v1/billing/meter_events')).toBe(sent);
    const view = await api.prisma.db.meterReport.count({ where: { orgId: org.id, status: 'failed' } });
    expect(view).toBe(1);
  });

  it('gives up after METER_MAX_ATTEMPTS, and once the first attempt is older than the retry window', async () => {
    const { org } = await billedOrg(3);
    await seedHourly(api, org.id, [
      { hour: new Date(H().getTime() - 2 * HOUR), calls: 4 },
      { hour: new Date(H().getTime() - HOUR), calls: 6 },
    ]);
    fake.failNext(100, '/v1/billing/meter_events', { status: 409, where: mine(org.id) });
    try {
      await reporter.pass();
      // The second report's first attempt "was" 21 hours ago: its next failure is its last.
      const [, late] = await reports(org.id);
      await api.prisma.db.meterReport.update({ where: { id: late!.id }, data: { createdAt: new Date(Date.now() - 21 * HOUR) } });
      await settle();
      const [a, b] = await reports(org.id);
      expect(a).toMatchObject({ status: 'failed', attempts: 4 });
      expect(b).toMatchObject({ status: 'failed', attempts: 2 });
    } finally {
      fake.clearFaults();
    }
  });

  it('two workers reporting at once send each report once', async () => {
    const { org, customer } = await billedOrg(8);
    await seedHourly(
      api,
      org.id,
      Array.from({ length: 7 }, (_, i) => ({ hour: new Date(H().getTime() - (i + 1) * HOUR), calls: i + 1 })),
    );
    const second = await startTestWorker(workerEnv());
    try {
      await Promise.all([reporter.pass(), second.get(MeterReporter).pass(), reporter.pass()]);
      await settle();
    } finally {
      await second.close();
    }
    expect(
      eventsOf(customer)
        .map((e) => e.value)
        .sort((x, y) => x - y),
    ).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const ids = fake.requests.filter((r) => r.path === '/v1/billing/meter_events' && String(r.params.identifier).startsWith(org.id));
    expect(ids).toHaveLength(7);
  });

  it('stops reporting for a canceled subscription', async () => {
    const { org, customer } = await billedOrg(2);
    await api.prisma.db.billingAccount.update({ where: { orgId: org.id }, data: { status: 'canceled' } });
    await seedHourly(api, org.id, [{ hour: new Date(H().getTime() - HOUR), calls: 3 }]);
    await reporter.pass();
    expect(await reports(org.id)).toEqual([]);
    expect(eventsOf(customer)).toEqual([]);
  });

  it('end to end: gateway usage events → roll-ups → a meter event with the billable count', async () => {
    const { org, customer } = await billedOrg(3);
    const producer = new UsageProducer(prefix);
    try {
      const at = new Date(H().getTime() - HOUR + 5 * 60_000).toISOString();
      await producer.add([
        ...Array.from({ length: 40 }, () => usageEvent({ orgId: org.id, at })),
        ...Array.from({ length: 4 }, () => usageEvent({ orgId: org.id, at, decision: 'deny', outcome: 'denied' })),
        ...Array.from({ length: 3 }, () => usageEvent({ orgId: org.id, at, method: 'tools/list', target: null })),
      ]);
      await producer.drained();
    } finally {
      await producer.close();
    }
    await reporter.pass();
    expect(eventsOf(customer).map((e) => e.value)).toEqual([40]);
  });
});

describe('Stripe meter reporting without Stripe (local mode)', () => {
  it('reports nothing and schedules nothing', async () => {
    const api = await startApi({ STRIPE_SECRET_KEY: '' });
    const worker = await startTestWorker({ STRIPE_SECRET_KEY: '', QUEUE_PREFIX: queuePrefix(), METER_GRACE_MS: '0' });
    try {
      const owner = await signup(api, 'local');
      const org = await createOrg(api, owner);
      await api.prisma.db.billingAccount.create({ data: { orgId: org.id, meteringStartedAt: new Date(Date.now() - 5 * HOUR) } });
      await seedHourly(api, org.id, [{ hour: hourStart(new Date(Date.now() - 2 * HOUR)), calls: 10 }]);
      expect(await worker.get(MeterReporter).pass()).toEqual({ scheduled: 0, reported: 0, retrying: 0, failed: 0 });
      expect(await api.prisma.db.meterReport.count({ where: { orgId: org.id } })).toBe(0);
    } finally {
      await worker.close();
      await api.close();
    }
  });
});
