import { type Api, expectProblem, startApi } from '../../../test/harness';
import { hourStart, monthBounds, monthOf } from '../usage/usage.rules';
import { seedHourly } from '../usage/usage.test-fixtures';
import { type Team, team } from '../members/members.fixtures';

jest.setTimeout(30_000);

describe('billing without Stripe (local ledger mode)', () => {
  let api: Api;
  let t: Team;

  beforeAll(async () => {
    api = await startApi({
      STRIPE_SECRET_KEY: '',
      STRIPE_WEBHOOK_SECRET: '',
      BILLING_ESTIMATE_CENTS_PER_1K: '40',
      BILLING_CURRENCY: 'eur',
    });
  });
  afterAll(() => api.close());
  beforeEach(async () => {
    t = await team(api, 'local');
  });

  it('answers usage and an estimate from the local ledger, and says so', async () => {
    await api.prisma.db.organization.update({ where: { id: t.org.id }, data: { monthlyCallQuota: 50_000 } });
    await seedHourly(api, t.org.id, [
      { hour: hourStart(new Date()), keyId: 'a', calls: 2600, denied: 100, errors: 3 },
      { hour: hourStart(new Date()), keyId: 'b', calls: 1000 },
    ]);
    const { start, end } = monthBounds(monthOf(new Date()));
    const res = await api.req().get(`/v1/orgs/${t.org.slug}/billing`).set(t.billing.auth).expect(200);
    expect(res.body).toEqual({
      mode: 'local',
      notice: expect.stringContaining('Stripe is not configured'),
      plan: { name: 'free', monthlyCallQuota: 50_000 },
      status: 'none',
      stripeCustomerId: null,
      stripeSubscriptionId: null,
      meteringStartedAt: null,
      alertWebhookUrl: null,
      estimatedCentsPer1k: null,
      period: { start: start.toISOString(), end: end.toISOString(), source: 'calendar_month' },
      usage: { calls: 3600, errors: 3, denied: 100, billable: 3500, bytesIn: 0, bytesOut: 0, durationMs: 0 },
      estimate: { billableCalls: 3500, centsPer1k: 40, amountCents: 140, currency: 'eur' },
      upcomingInvoice: null,
      meterReports: { pending: 0, failed: 0, lastReportedHour: null, lastReportedAt: null },
    });
  });

  it('refuses enable with a clear billing_not_configured problem (409) and changes nothing', async () => {
    const res = await api.req().post(`/v1/orgs/${t.org.slug}/billing/enable`).set(t.owner.auth);
    expectProblem(res, 409, 'billing_not_configured');
    expect(res.body.detail).toContain('Stripe is not configured');
    expect(await api.prisma.db.billingAccount.findUnique({ where: { orgId: t.org.id } })).toBeNull();
    // Roles are checked first.
    expectProblem(await api.req().post(`/v1/orgs/${t.org.slug}/billing/enable`).set(t.member.auth), 403, 'forbidden');
  });

  it('lists stored invoices without calling anyone', async () => {
    await api.prisma.db.invoice.create({
      data: { id: 'in_local_1', orgId: t.org.id, status: 'paid', currency: 'eur', amountDue: 10, amountPaid: 10, createdAt: new Date() },
    });
    const res = await api.req().get(`/v1/orgs/${t.org.slug}/billing/invoices`).set(t.billing.auth).expect(200);
    expect(res.body).toMatchObject({ mode: 'local', source: 'database', items: [{ id: 'in_local_1', status: 'paid', amountPaid: 10 }] });
    expect(res.body.refreshError).toBeUndefined();
    expectProblem(await api.req().get(`/v1/orgs/${t.org.slug}/billing/invoices`).set(t.member.auth), 403, 'forbidden');
  });

  it('still takes the alert webhook URL and the per-org price', async () => {
    const res = await api
      .req()
      .patch(`/v1/orgs/${t.org.slug}/billing`)
      .set(t.owner.auth)
      .send({ alertWebhookUrl: 'http://127.0.0.1:9/alerts', estimatedCentsPer1k: 200 })
      .expect(200);
    expect(res.body).toMatchObject({ mode: 'local', alertWebhookUrl: 'http://127.0.0.1:9/alerts', estimate: { centsPer1k: 200 } });
  });
});
