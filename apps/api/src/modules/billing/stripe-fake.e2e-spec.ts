import Stripe from 'stripe';
import { parseStripeForm, type StripeFake, startStripeFake } from '../../../test/fixtures/stripe-fake';

/**
 * The fake is only worth something if it refuses what Stripe would refuse: these checks keep it
 * honest (the billing specs rely on it).
 */
describe('Stripe fake (test fixture) validates what it receives', () => {
  let fake: StripeFake;
  let stripe: Stripe;
  const base = () => `http://127.0.0.1:${fake.port}`;

  beforeAll(async () => {
    fake = await startStripeFake();
    const env = fake.env();
    stripe = new Stripe(env.STRIPE_SECRET_KEY!, {
      host: '127.0.0.1',
      port: fake.port,
      protocol: 'http',
      maxNetworkRetries: 0,
      timeout: 2000,
    });
  });
  afterAll(() => fake.stop());

  it('parses Stripe’s bracket notation and refuses malformed parameters', () => {
    expect(parseStripeForm('customer=cus_1&items[0][price]=p1&items[1][price]=p2&metadata[org_id]=a%20b&expand[0]=x')).toEqual({
      customer: 'cus_1',
      items: [{ price: 'p1' }, { price: 'p2' }],
      metadata: { org_id: 'a b' },
      expand: ['x'],
    });
    for (const bad of ['a[=1', 'items[1][price]=p', 'a=1&a=2', 'a[b]=1&a[0]=2', '=x', 'a%20b=1']) {
      expect(() => parseStripeForm(bad)).toThrow();
    }
  });

  it('refuses a wrong API key, JSON bodies and unknown parameters', async () => {
    const wrong = new Stripe('sk_test_wrong', { host: '127.0.0.1', port: fake.port, protocol: 'http', maxNetworkRetries: 0 });
    await expect(wrong.customers.create({ name: 'x' })).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);

    const json = await fetch(`${base()}/v1/customers`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${fake.options.apiKey}`,
        'Stripe-Version': '2026-10-28.endive',
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ name: 'x' }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: { message: string } }).error.message).toContain('form-encoded');

    await expect(stripe.customers.create({ name: 'x', phone: '1' })).rejects.toThrow('Received unknown parameter: phone');
  });

  it('replays a repeated Idempotency-Key and refuses the key with other parameters', async () => {
    const a = await stripe.customers.create({ name: 'Acme' }, { idempotencyKey: 'k-1' });
    const b = await stripe.customers.create({ name: 'Acme' }, { idempotencyKey: 'k-1' });
    expect(b.id).toBe(a.id);
    expect(fake.requests.at(-1)).toMatchObject({ replayed: true });
    await expect(stripe.customers.create({ name: 'Other' }, { idempotencyKey: 'k-1' })).rejects.toBeInstanceOf(
      Stripe.errors.StripeIdempotencyError,
    );
  });

  it('checks meter events (event name, customer, value, timestamp) and drops repeated identifiers', async () => {
    const c = await stripe.customers.create({ name: 'm' });
    const ok = {
      event_name: 'toolgate_calls',
      payload: { stripe_customer_id: c.id, value: '3' },
      identifier: 'id-1',
      timestamp: Math.floor(Date.now() / 1000),
    };
    await stripe.billing.meterEvents.create(ok);
    await stripe.billing.meterEvents.create(ok);
    expect(fake.meterEvents.filter((e) => e.identifier === 'id-1')).toHaveLength(1);
    expect(fake.duplicateIdentifiers).toEqual(['id-1']);
    await expect(stripe.billing.meterEvents.create({ ...ok, identifier: 'id-2', event_name: 'other' })).rejects.toThrow('No active meter');
    await expect(
      stripe.billing.meterEvents.create({ ...ok, identifier: 'id-3', payload: { stripe_customer_id: 'cus_nope', value: '1' } }),
    ).rejects.toThrow('No such customer');
    await expect(
      stripe.billing.meterEvents.create({ ...ok, identifier: 'id-4', payload: { stripe_customer_id: c.id, value: '1.5' } }),
    ).rejects.toThrow('whole number');
    await expect(stripe.billing.meterEvents.create({ ...ok, identifier: 'id-5', timestamp: 1 })).rejects.toThrow('35 days');
  });

  it('signs webhooks the way Stripe’s SDK verifies them', async () => {
    let received: { body: string; signature: string } | null = null;
    const { createServer } = await import('node:http');
    const srv = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received = { body, signature: String(req.headers['stripe-signature']) };
        res.end('{}');
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as { port: number }).port;
      const sent = await fake.sendEvent(`http://127.0.0.1:${port}/`, 'invoice.paid', { id: 'in_1', object: 'invoice' });
      const event = Stripe.webhooks.constructEvent(received!.body, received!.signature, fake.options.webhookSecret);
      expect(event).toMatchObject({ id: sent.event.id, type: 'invoice.paid', data: { object: { id: 'in_1' } } });
      expect(() => Stripe.webhooks.constructEvent(received!.body, received!.signature, 'whsec_other')).toThrow();
    } finally {
      srv.close();
    }
  });
});
