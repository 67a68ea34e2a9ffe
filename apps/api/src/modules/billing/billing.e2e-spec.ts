import { type Api, expectProblem, startApi } from '../../../test/harness';
import { FAKE_PRICE as PRICE, type StripeFake, startStripeFake } from '../../../test/fixtures/stripe-fake';
import { hourStart, monthBounds, monthOf } from '../usage/usage.rules';
import { HOUR, seedHourly } from '../usage/usage.test-fixtures';
import { type Team, team } from '../members/members.fixtures';

jest.setTimeout(60_000);

describe('billing API (Stripe mode, against the Stripe fake)', () => {
  let fake: StripeFake;
  let api: Api;
  let t: Team;

  beforeAll(async () => {
    fake = await startStripeFake();
    api = await startApi({ ...fake.env(), STRIPE_TIMEOUT_MS: '500', STRIPE_MAX_NETWORK_RETRIES: '1', BILLING_ESTIMATE_CENTS_PER_1K: '50' });
  });
  afterAll(async () => {
    fake.releaseHung();
    await api.close();
    await fake.stop();
  });
  beforeEach(async () => {
    t = await team(api, 'bill');
  });

  const url = (suffix = '', org = t.org.slug) => `/v1/orgs/${org}/billing${suffix}`;
  const enable = (user = t.owner) => api.req().post(url('/enable')).set(user.auth);

  describe('POST /billing/enable', () => {
    it('creates one customer and a metered subscription, stores them and logs billing.enabled', async () => {
      const before = fake.requests.length;
      const res = await enable().expect(200);
      expect(res.body).toMatchObject({
        mode: 'stripe',
        status: 'active',
        stripeCustomerId: expect.stringMatching(/^cus_/),
        stripeSubscriptionId: expect.stringMatching(/^sub_/),
      });

      // What Stripe received: form-encoded, bracket notation, idempotency keys derived from the org.
      const sent = fake.requests.slice(before);
      // (The billing view it answers with then asks for the upcoming invoice.)
      expect(sent.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
        'POST /v1/customers 200',
        'POST /v1/subscriptions 200',
        'POST /v1/invoices/create_preview 200',
      ]);
      expect(sent[0]).toMatchObject({
        idempotencyKey: `tg-customer-${t.org.id}`,
        params: { name: `Org ${t.org.slug}`, metadata: { toolgate_org_id: t.org.id } },
      });
      expect(sent[1]).toMatchObject({
        idempotencyKey: `tg-subscription-${t.org.id}-first`,
        params: { customer: res.body.stripeCustomerId, items: [{ price: PRICE }], metadata: { toolgate_org_id: t.org.id } },
      });

      const account = await api.prisma.db.billingAccount.findUniqueOrThrow({ where: { orgId: t.org.id } });
      const sub = fake.subscriptions.get(account.stripeSubscriptionId!)!;
      const item = (sub.items as { data: Array<{ current_period_start: number; current_period_end: number }> }).data[0]!;
      expect(account).toMatchObject({
        stripeCustomerId: res.body.stripeCustomerId,
        status: 'active',
        currentPeriodStart: new Date(item.current_period_start * 1000),
        currentPeriodEnd: new Date(item.current_period_end * 1000),
        meteringStartedAt: expect.any(Date),
      });
      expect(res.body.period).toMatchObject({ source: 'subscription', start: account.currentPeriodStart!.toISOString() });
      const log = await api.prisma.db.activityLog.findFirstOrThrow({ where: { orgId: t.org.id, action: 'billing.enabled' } });
      expect(log).toMatchObject({ actorId: t.owner.id, targetType: 'billing', after: expect.objectContaining({ status: 'active' }) });
    });

    it('is idempotent, sequentially and concurrently: one customer, one subscription', async () => {
      const results = await Promise.all([enable(), enable(t.billing), enable()]);
      for (const r of results) expect(r.status).toBe(200);
      const again = await enable().expect(200);
      const ids = new Set([...results, again].map((r) => `${r.body.stripeCustomerId}/${r.body.stripeSubscriptionId}`));
      expect(ids.size).toBe(1);
      const mine = (m: Map<string, Record<string, unknown>>) =>
        [...m.values()].filter((o) => (o.metadata as Record<string, string>).toolgate_org_id === t.org.id);
      expect(mine(fake.customers)).toHaveLength(1);
      expect(mine(fake.subscriptions)).toHaveLength(1);
    });

    it('lets owner and billing members enable; refuses admin and member (403) and strangers (404)', async () => {
      await enable(t.billing).expect(200);
      expectProblem(await enable(t.admin), 403, 'forbidden');
      expectProblem(await enable(t.member), 403, 'forbidden');
      expectProblem(await enable(t.stranger), 404, 'not_found');
      expectProblem(await api.req().post(url('/enable')), 401, 'unauthenticated');
    });

    it('answers 502 when Stripe keeps failing, and a retry later creates exactly one customer', async () => {
      // The SDK retries once itself (same Idempotency-Key): two failures exhaust it.
      fake.failNext(2, '/v1/customers');
      const res = await enable();
      expectProblem(res, 502, 'payment_provider_error');
      expect(res.body.detail).toContain('Stripe could not set up billing');
      const keys = fake.requests.filter((r) => r.path === '/v1/customers' && r.idempotencyKey === `tg-customer-${t.org.id}`);
      expect(keys).toHaveLength(2);
      expect((await api.prisma.db.billingAccount.findUnique({ where: { orgId: t.org.id } }))?.stripeCustomerId ?? null).toBeNull();

      await enable().expect(200);
      expect([...fake.customers.values()].filter((c) => (c.metadata as Record<string, string>).toolgate_org_id === t.org.id)).toHaveLength(
        1,
      );
    });

    it('survives a lost response (Stripe created the customer, the answer timed out): the retry gets the same customer', async () => {
      fake.hangNext(2, '/v1/customers', { afterProcessing: true });
      expectProblem(await enable(), 502, 'payment_provider_error');
      const created = [...fake.customers.values()].filter((c) => (c.metadata as Record<string, string>).toolgate_org_id === t.org.id);
      expect(created).toHaveLength(1);

      const ok = await enable().expect(200);
      expect(ok.body.stripeCustomerId).toBe(created[0]!.id);
      const replays = fake.requests.filter(
        (r) => r.path === '/v1/customers' && r.idempotencyKey === `tg-customer-${t.org.id}` && r.replayed,
      );
      expect(replays.length).toBeGreaterThanOrEqual(1);
      fake.releaseHung();
    });

    it('stores the customer even when the subscription fails, and reuses it on the retry', async () => {
      fake.failNext(2, '/v1/subscriptions', { status: 503 });
      expectProblem(await enable(), 502, 'payment_provider_error');
      const account = await api.prisma.db.billingAccount.findUniqueOrThrow({ where: { orgId: t.org.id } });
      expect(account).toMatchObject({ stripeCustomerId: expect.stringMatching(/^cus_/), stripeSubscriptionId: null, status: 'none' });
      const customersBefore = fake.count('POST', '/v1/customers');
      const ok = await enable().expect(200);
      expect(ok.body).toMatchObject({ stripeCustomerId: account.stripeCustomerId, status: 'active' });
      expect(fake.count('POST', '/v1/customers')).toBe(customersBefore);
    });
  });

  describe('GET /billing', () => {
    it('shows plan, status, the period’s usage, the estimate and Stripe’s upcoming invoice', async () => {
      await api.prisma.db.organization.update({ where: { id: t.org.id }, data: { plan: 'team', monthlyCallQuota: 100_000 } });
      const enabled = await enable().expect(200);
      // Usage inside the subscription period (it started now): this hour. Before it: not counted.
      const h = hourStart(new Date());
      await seedHourly(api, t.org.id, [
        { hour: h, keyId: 'k1', calls: 1500, denied: 100, errors: 7, bytesIn: 10, bytesOut: 20, durationMs: 5 },
        { hour: h, keyId: 'k2', calls: 600, denied: 0 },
        { hour: new Date(h.getTime() - 24 * HOUR), keyId: 'k1', calls: 999_999 },
      ]);
      // Stripe knows about 2,000 calls already reported.
      fake.meterEvents.push({
        identifier: `${t.org.id}:x`,
        event_name: 'toolgate_calls',
        customer: enabled.body.stripeCustomerId,
        value: 2000,
        timestamp: 0,
        idempotencyKey: null,
      });

      const res = await api.req().get(url()).set(t.billing.auth).expect(200);
      expect(res.body).toMatchObject({
        mode: 'stripe',
        plan: { name: 'team', monthlyCallQuota: 100_000 },
        status: 'active',
        period: { source: 'subscription' },
        usage: { calls: 2100, denied: 100, billable: 2000, errors: 7, bytesIn: 10, bytesOut: 20, durationMs: 5 },
        estimate: { billableCalls: 2000, centsPer1k: 50, amountCents: 100, currency: 'usd' },
        upcomingInvoice: {
          amountDue: 100,
          currency: 'usd',
          lines: [{ amount: 100, quantity: 2000, description: '2000 × Toolgate calls' }],
        },
        meterReports: { pending: 0, failed: 0, lastReportedHour: null },
      });
      expect(res.body.notice).toBeUndefined();
      const preview = fake.requests.filter((r) => r.path === '/v1/invoices/create_preview').at(-1)!;
      expect(preview.params).toEqual({ customer: enabled.body.stripeCustomerId, subscription: enabled.body.stripeSubscriptionId });
    });

    it('still answers when Stripe cannot preview the invoice (upcomingInvoice null, with the reason)', async () => {
      await enable().expect(200);
      fake.failNext(2, '/v1/invoices/create_preview');
      const res = await api.req().get(url()).set(t.owner.auth).expect(200);
      expect(res.body.upcomingInvoice).toBeNull();
      expect(res.body.upcomingInvoiceError).toContain('Stripe did not answer the upcoming invoice');
      expect(res.body.estimate).toMatchObject({ amountCents: 0 });
    });

    it('before billing is enabled: calendar month, status none, the local estimate, no upcoming invoice', async () => {
      const { start, end } = monthBounds(monthOf(new Date()));
      await seedHourly(api, t.org.id, [{ hour: hourStart(new Date()), calls: 10_000 }]);
      await api.req().patch(url()).set(t.owner.auth).send({ estimatedCentsPer1k: 120 }).expect(200);
      const res = await api.req().get(url()).set(t.owner.auth).expect(200);
      expect(res.body).toMatchObject({
        mode: 'stripe',
        status: 'none',
        stripeCustomerId: null,
        period: { source: 'calendar_month', start: start.toISOString(), end: end.toISOString() },
        usage: { calls: 10_000, billable: 10_000 },
        estimate: { centsPer1k: 120, amountCents: 1200 },
        upcomingInvoice: null,
      });
    });

    it('is for owner and billing members: admin and member 403, strangers 404', async () => {
      for (const u of [t.owner, t.billing]) await api.req().get(url()).set(u.auth).expect(200);
      expectProblem(await api.req().get(url()).set(t.admin.auth), 403, 'forbidden');
      expectProblem(await api.req().get(url()).set(t.member.auth), 403, 'forbidden');
      expectProblem(await api.req().get(url()).set(t.stranger.auth), 404, 'not_found');
    });
  });

  describe('GET /billing/invoices', () => {
    it('refreshes from Stripe and lists newest first; a billing member can read them, a plain member cannot', async () => {
      const { body } = await enable().expect(200);
      const older = fake.addInvoice(body.stripeCustomerId, {
        status: 'paid',
        number: 'TG-0001',
        amount_due: 1234,
        amount_paid: 1234,
        created: 1_700_000_000,
        hosted_invoice_url: 'https://invoice.example/1',
      });
      const newer = fake.addInvoice(body.stripeCustomerId, { status: 'open', number: 'TG-0002', amount_due: 999, created: 1_800_000_000 });
      // Another customer's invoice never shows up.
      fake.addInvoice('cus_someone_else', { status: 'paid' });

      const res = await api.req().get(url('/invoices')).set(t.billing.auth).expect(200);
      expect(res.body).toMatchObject({ mode: 'stripe', source: 'stripe' });
      expect(res.body.items).toEqual([
        expect.objectContaining({ id: newer.id, number: 'TG-0002', status: 'open', amountDue: 999, amountPaid: 0, currency: 'usd' }),
        expect.objectContaining({
          id: older.id,
          number: 'TG-0001',
          status: 'paid',
          amountDue: 1234,
          amountPaid: 1234,
          hostedInvoiceUrl: 'https://invoice.example/1',
        }),
      ]);
      const list = fake.requests.filter((r) => r.path === '/v1/invoices').at(-1)!;
      expect(list.query).toEqual({ customer: body.stripeCustomerId, limit: '24' });
      expect(await api.prisma.db.invoice.count({ where: { orgId: t.org.id } })).toBe(2);

      await api.req().get(url('/invoices')).set(t.owner.auth).expect(200);
      expectProblem(await api.req().get(url('/invoices')).set(t.member.auth), 403, 'forbidden');
      expectProblem(await api.req().get(url('/invoices')).set(t.admin.auth), 403, 'forbidden');
      expectProblem(await api.req().get(url('/invoices')).set(t.stranger.auth), 404, 'not_found');
    });

    it('serves the stored invoices when Stripe does not answer', async () => {
      const { body } = await enable().expect(200);
      fake.addInvoice(body.stripeCustomerId, { status: 'paid', amount_due: 10, amount_paid: 10 });
      await api.req().get(url('/invoices')).set(t.owner.auth).expect(200);
      fake.failNext(2, '/v1/invoices', { method: 'GET' });
      const res = await api.req().get(url('/invoices')).set(t.owner.auth).expect(200);
      expect(res.body).toMatchObject({ source: 'database', refreshError: expect.stringContaining('Stripe did not answer') });
      expect(res.body.items).toHaveLength(1);
    });

    it('validates the query', async () => {
      expectProblem(await api.req().get(url('/invoices')).query({ limit: 0 }).set(t.owner.auth), 400, 'validation_failed');
      expectProblem(await api.req().get(url('/invoices')).query({ page: 2 }).set(t.owner.auth), 400, 'validation_failed');
    });
  });

  describe('PATCH /billing', () => {
    it('sets and clears the alert webhook URL and the estimate price, logging billing.updated', async () => {
      const res = await api
        .req()
        .patch(url())
        .set(t.billing.auth)
        .send({ alertWebhookUrl: 'https://alerts.example/toolgate', estimatedCentsPer1k: 75 })
        .expect(200);
      expect(res.body).toMatchObject({
        alertWebhookUrl: 'https://alerts.example/toolgate',
        estimatedCentsPer1k: 75,
        estimate: { centsPer1k: 75 },
      });
      const cleared = await api.req().patch(url()).set(t.owner.auth).send({ alertWebhookUrl: null, estimatedCentsPer1k: null }).expect(200);
      expect(cleared.body).toMatchObject({ alertWebhookUrl: null, estimatedCentsPer1k: null, estimate: { centsPer1k: 50 } });
      const logs = await api.prisma.db.activityLog.findMany({
        where: { orgId: t.org.id, action: 'billing.updated' },
        orderBy: { createdAt: 'asc' },
      });
      expect(logs.map((l) => l.actorId)).toEqual([t.billing.id, t.owner.id]);
    });

    it.each([
      ['not a URL', { alertWebhookUrl: 'alerts' }, 'alertWebhookUrl'],
      ['ftp URL', { alertWebhookUrl: 'ftp://alerts.example/x' }, 'alertWebhookUrl'],
      ['URL with credentials', { alertWebhookUrl: 'https://user:pw@alerts.example/x' }, 'alertWebhookUrl'],
      ['negative price', { estimatedCentsPer1k: -1 }, 'estimatedCentsPer1k'],
      ['fractional price', { estimatedCentsPer1k: 1.5 }, 'estimatedCentsPer1k'],
      ['unknown field', { plan: 'enterprise' }, ''],
      ['empty body', {}, ''],
    ])('answers 400 for %s', async (_label, body, path) => {
      const res = await api.req().patch(url()).set(t.owner.auth).send(body);
      expectProblem(res, 400, 'validation_failed');
      if (path) expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    });

    it('refuses admin and member', async () => {
      expectProblem(await api.req().patch(url()).set(t.admin.auth).send({ alertWebhookUrl: null }), 403, 'forbidden');
      expectProblem(await api.req().patch(url()).set(t.member.auth).send({ alertWebhookUrl: null }), 403, 'forbidden');
    });
  });

  it('refuses to start with a half-configured Stripe', async () => {
    await expect(startApi({ ...fake.env(), STRIPE_PRICE_ID: '' })).rejects.toThrow(
      'STRIPE_PRICE_ID: required when STRIPE_SECRET_KEY is set',
    );
    await expect(startApi({ ...fake.env(), STRIPE_WEBHOOK_SECRET: '' })).rejects.toThrow(
      'STRIPE_WEBHOOK_SECRET: required when STRIPE_SECRET_KEY is set',
    );
  });
});
