import type { AddressInfo } from 'node:net';
import { type Api, expectProblem, startApi } from '../../../test/harness';
import { type StripeFake, startStripeFake } from '../../../test/fixtures/stripe-fake';
import { type Team, team } from '../members/members.fixtures';

jest.setTimeout(60_000);

describe('POST /v1/billing/stripe/webhook', () => {
  let fake: StripeFake;
  let api: Api;
  let hook: string;
  let t: Team;
  let customer: string;
  let subscription: string;

  beforeAll(async () => {
    fake = await startStripeFake();
    api = await startApi(fake.env());
    // A real listening server: the fake posts over HTTP, exactly as Stripe would.
    await api.app.listen(0, '127.0.0.1');
    hook = `http://127.0.0.1:${(api.http.address() as AddressInfo).port}/v1/billing/stripe/webhook`;
  });
  afterAll(async () => {
    await api.close();
    await fake.stop();
  });
  beforeEach(async () => {
    t = await team(api, 'hook');
    const res = await api.req().post(`/v1/orgs/${t.org.slug}/billing/enable`).set(t.owner.auth).expect(200);
    customer = res.body.stripeCustomerId;
    subscription = res.body.stripeSubscriptionId;
  });

  const invoice = (id: string) => api.prisma.db.invoice.findUnique({ where: { id } });
  const account = () => api.prisma.db.billingAccount.findUniqueOrThrow({ where: { orgId: t.org.id } });

  it('verifies the signature and upserts the invoice through its lifecycle (created → finalized → paid)', async () => {
    const draft = fake.invoiceObject(customer, { status: 'draft', amount_due: 1500, created: 1_750_000_000 });
    const created = await fake.sendEvent(hook, 'invoice.created', draft);
    expect(created).toMatchObject({ status: 200, body: { received: true, duplicate: false, handled: true } });
    expect(await invoice(String(draft.id))).toMatchObject({
      orgId: t.org.id,
      status: 'draft',
      amountDue: 1500,
      amountPaid: 0,
      currency: 'usd',
    });

    await fake.sendEvent(hook, 'invoice.finalized', {
      ...draft,
      status: 'open',
      number: 'TG-42',
      hosted_invoice_url: 'https://pay.example/42',
      invoice_pdf: 'https://pay.example/42.pdf',
    });
    expect(await invoice(String(draft.id))).toMatchObject({
      status: 'open',
      number: 'TG-42',
      hostedInvoiceUrl: 'https://pay.example/42',
      invoicePdf: 'https://pay.example/42.pdf',
    });

    await fake.sendEvent(hook, 'invoice.paid', { ...draft, status: 'paid', number: 'TG-42', amount_paid: 1500 });
    expect(await invoice(String(draft.id))).toMatchObject({ status: 'paid', amountPaid: 1500, createdAt: new Date(1_750_000_000_000) });
    expect(await api.prisma.db.stripeEvent.count({ where: { id: { in: [String(created.event.id)] } } })).toBe(1);

    // The org's invoices list shows it (billing members read them).
    const list = await api.req().get(`/v1/orgs/${t.org.slug}/billing/invoices`).set(t.billing.auth).expect(200);
    expect(list.body.items.map((i: { id: string; status: string }) => [i.id, i.status])).toEqual([[draft.id, 'paid']]);
  });

  it('records a failed payment (invoice stays open) and the subscription turning past_due', async () => {
    const inv = fake.invoiceObject(customer, { status: 'open', amount_due: 700 });
    const res = await fake.sendEvent(hook, 'invoice.payment_failed', { ...inv, attempt_count: 1 });
    expect(res.status).toBe(200);
    expect(await invoice(String(inv.id))).toMatchObject({ status: 'open', amountDue: 700, amountPaid: 0 });

    const sub = fake.subscriptions.get(subscription)!;
    const start = 1_760_000_000;
    await fake.sendEvent(hook, 'customer.subscription.updated', {
      ...sub,
      status: 'past_due',
      items: { object: 'list', data: [{ id: 'si_1', current_period_start: start, current_period_end: start + 2_592_000 }] },
    });
    expect(await account()).toMatchObject({
      status: 'past_due',
      currentPeriodStart: new Date(start * 1000),
      currentPeriodEnd: new Date((start + 2_592_000) * 1000),
    });
    const view = await api.req().get(`/v1/orgs/${t.org.slug}/billing`).set(t.owner.auth).expect(200);
    expect(view.body.status).toBe('past_due');
  });

  it('cancels on customer.subscription.deleted; enabling again creates a new subscription', async () => {
    const sub = fake.subscriptions.get(subscription)!;
    await fake.sendEvent(hook, 'customer.subscription.deleted', { ...sub, status: 'canceled' });
    expect(await account()).toMatchObject({ status: 'canceled', stripeSubscriptionId: subscription });
    const view = await api.req().get(`/v1/orgs/${t.org.slug}/billing`).set(t.owner.auth).expect(200);
    expect(view.body).toMatchObject({ status: 'canceled', upcomingInvoice: null, period: { source: 'calendar_month' } });

    const again = await api.req().post(`/v1/orgs/${t.org.slug}/billing/enable`).set(t.owner.auth).expect(200);
    expect(again.body).toMatchObject({ status: 'active', stripeCustomerId: customer });
    expect(again.body.stripeSubscriptionId).not.toBe(subscription);
    expect(fake.requests.filter((r) => r.path === '/v1/subscriptions').at(-1)!.idempotencyKey).toBe(
      `tg-subscription-${t.org.id}-${subscription}`,
    );
    // A late event about the old subscription does not touch the new one.
    await fake.sendEvent(hook, 'customer.subscription.updated', { ...sub, status: 'canceled' });
    expect((await account()).status).toBe('active');
  });

  it('applies each event id once: a replayed event changes nothing', async () => {
    const inv = fake.invoiceObject(customer, { status: 'open', amount_due: 300 });
    const first = await fake.sendEvent(hook, 'invoice.finalized', inv);
    expect(first.body).toMatchObject({ duplicate: false, handled: true });
    // Someone changed the row since (a later event, say); the replay must not undo it.
    await api.prisma.db.invoice.update({ where: { id: String(inv.id) }, data: { amountDue: 301 } });
    const replay = await fake.sendEvent(hook, first.event);
    expect(replay).toMatchObject({ status: 200, body: { received: true, duplicate: true, handled: false } });
    expect((await invoice(String(inv.id)))!.amountDue).toBe(301);

    // Concurrent deliveries of one event: exactly one applies it.
    const ev = fake.invoiceObject(customer, { status: 'open' });
    const once = await fake.sendEvent(hook, 'invoice.created', ev);
    await api.prisma.db.stripeEvent.delete({ where: { id: String(once.event.id) } });
    await api.prisma.db.invoice.delete({ where: { id: String(ev.id) } });
    const results = await Promise.all(Array.from({ length: 5 }, () => fake.sendEvent(hook, once.event)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(results.filter((r) => (r.body as { duplicate: boolean }).duplicate === false)).toHaveLength(1);
  });

  it('never moves an invoice back when events arrive out of order', async () => {
    const inv = fake.invoiceObject(customer, { status: 'paid', amount_due: 900, amount_paid: 900 });
    await fake.sendEvent(hook, 'invoice.paid', inv);
    await fake.sendEvent(hook, 'invoice.finalized', { ...inv, status: 'open', amount_paid: 0 });
    await fake.sendEvent(hook, 'invoice.created', { ...inv, status: 'draft', amount_paid: 0 });
    expect(await invoice(String(inv.id))).toMatchObject({ status: 'paid', amountPaid: 900 });
  });

  it('refuses a bad signature, a tampered body, a missing header and an old (replayed) signature with 400', async () => {
    const inv = fake.invoiceObject(customer, { status: 'open' });
    const cases = [
      await fake.sendEvent(hook, 'invoice.created', inv, { secret: 'whsec_not_the_right_one' }),
      await fake.sendEvent(hook, 'invoice.created', inv, { tamper: true }),
      await fake.sendEvent(hook, 'invoice.created', inv, { signature: null }),
      await fake.sendEvent(hook, 'invoice.created', inv, { signature: 'garbage' }),
      // Signed correctly, but 10 minutes ago: outside Stripe's 5-minute tolerance.
      await fake.sendEvent(hook, 'invoice.created', inv, { timestamp: Math.floor(Date.now() / 1000) - 600 }),
    ];
    for (const c of cases) {
      expect(c.status).toBe(400);
      expect(c.body).toMatchObject({ code: 'invalid_signature', status: 400 });
    }
    expect(await invoice(String(inv.id))).toBeNull();
    const ids = cases.map((c) => String(c.event.id));
    expect(await api.prisma.db.stripeEvent.count({ where: { id: { in: ids } } })).toBe(0);
  });

  it('accepts and records events it does not act on, and invoices of unknown customers', async () => {
    const other = await fake.sendEvent(hook, 'charge.succeeded', { id: 'ch_1', object: 'charge' });
    expect(other).toMatchObject({ status: 200, body: { duplicate: false, handled: false } });
    const stranger = fake.invoiceObject('cus_not_ours', { status: 'open' });
    const res = await fake.sendEvent(hook, 'invoice.created', stranger);
    expect(res).toMatchObject({ status: 200, body: { handled: false } });
    expect(await invoice(String(stranger.id))).toBeNull();
  });

  it('answers 400 for a body that is not an event, even when correctly signed', async () => {
    const res = await fetch(hook, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '' });
    expect(res.status).toBe(400);
  });

  it('answers 503 when no webhook secret is configured', async () => {
    const local = await startApi({ STRIPE_SECRET_KEY: '', STRIPE_WEBHOOK_SECRET: '' });
    try {
      const res = await local.req().post('/v1/billing/stripe/webhook').set('Stripe-Signature', 't=1,v1=00').send('{}');
      expectProblem(res, 503, 'billing_not_configured');
    } finally {
      await local.close();
    }
  });
});
