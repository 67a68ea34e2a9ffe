import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import { sealSecret } from '@toolgate/contracts';
import { type Api, expectProblem, startApi } from '../../../test/harness';
import { type Team, team } from '../members/members.fixtures';
import { AuditRetention } from './audit.retention';
import { AuditProducer, auditEvent, queuePrefix, startAuditWorker, verifyExport, waitFor } from './audit.test-fixtures';
import { AuditWebhookDeliverer } from './audit.webhook-deliverer';

jest.setTimeout(120_000);

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The signature checked with the webhook's secret, as a receiver would. */
  signatureValid: boolean;
}

/**
 * A SIEM stand-in on 127.0.0.1: checks each request's signature with the webhook's secret and
 * answers from a script of status codes (then 200), or `hang` (never answers).
 */
class Siem {
  readonly received: Received[] = [];
  secret = '';
  script: Array<number | 'hang'> = [];
  private readonly server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      this.received.push({
        at: Date.now(),
        headers: req.headers,
        body,
        signatureValid: this.check(String(req.headers['x-toolgate-signature']), body),
      });
      const next = this.script.shift() ?? 200;
      if (next === 'hang') return;
      if (next >= 300 && next < 400) res.setHeader('location', 'http://127.0.0.1:1/elsewhere');
      res.writeHead(next).end('ok');
    });
  });

  private check(header: string, body: string): boolean {
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
    if (!m) return false;
    // Refuse stale timestamps (replay protection): five minutes either way.
    if (Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return false;
    const expected = createHmac('sha256', this.secret).update(`${m[1]}.${body}`).digest();
    return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/siem/audit`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The NDJSON lines of every request so far, as parsed events. */
  events(): Array<{ seq: number; id: string; prevHash: string; hash: string }> {
    return this.received.flatMap((r) =>
      r.body
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );
  }
}

describe('audit SIEM webhooks', () => {
  let api: Api;
  let worker: INestApplicationContext;
  let producer: AuditProducer;
  let prefix: string;
  let t: Team;
  let other: Team;
  let siem: Siem;

  const hooks = (org = t.org.slug) => `/v1/orgs/${org}/audit/webhooks`;
  const count = (orgId: string) => api.prisma.db.auditEvent.count({ where: { orgId } });
  async function produce(orgId: string, n: number): Promise<void> {
    const before = await count(orgId);
    await producer.add(Array.from({ length: n }, () => auditEvent({ orgId })));
    await waitFor(async () => (await count(orgId)) === before + n, 30_000, `${before + n} events`);
  }
  async function create(url: string, body: Record<string, unknown> = {}, org = t) {
    const res = await api
      .req()
      .post(hooks(org.org.slug))
      .set(org.admin.auth)
      .send({ url, ...body })
      .expect(201);
    return res.body as { id: string; secret: string; deliveredSeq: number };
  }
  const deliverer = () => worker.get(AuditWebhookDeliverer);
  const deliveries = async (id: string, org = t) =>
    (
      await api
        .req()
        .get(`${hooks(org.org.slug)}/${id}/deliveries?limit=200`)
        .set(org.member.auth)
        .expect(200)
    ).body.items as Array<{
      fromSeq: number;
      toSeq: number;
      status: string;
      attempts: number;
      responseStatus: number | null;
      lastError: string | null;
      nextAttemptAt: string | null;
    }>;

  beforeAll(async () => {
    api = await startApi();
    prefix = queuePrefix();
    producer = new AuditProducer(prefix);
    worker = await startAuditWorker({
      QUEUE_PREFIX: prefix,
      AUDIT_BATCH_WAIT_MS: '10',
      AUDIT_WEBHOOK_BATCH_SIZE: '5',
      AUDIT_WEBHOOK_RETRY_MS: '200',
      AUDIT_WEBHOOK_TIMEOUT_MS: '500',
    });
    [t, other] = [await team(api, 'siem'), await team(api, 'siem-other')];
  });
  afterAll(async () => {
    await worker.close();
    await producer.close();
    await api.close();
  });
  beforeEach(() => {
    siem = new Siem();
  });
  afterEach(async () => {
    await api.prisma.db.auditWebhook.deleteMany({});
    await siem.close();
  });

  describe('routes', () => {
    it('creates (owner/admin; secret shown once), lists and reads (owner/admin/member), deletes (owner/admin)', async () => {
      const url = await siem.start();
      const res = await api.req().post(hooks()).set(t.owner.auth).send({ url }).expect(201);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        id: expect.any(String),
        url,
        enabled: true,
        deliveredSeq: expect.any(Number),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/),
      });
      const stored = await api.prisma.db.auditWebhook.findUniqueOrThrow({ where: { id: res.body.id } });
      expect(stored.secret).not.toContain(res.body.secret.slice(6));

      for (const who of [t.owner, t.admin, t.member]) {
        const l = await api.req().get(hooks()).set(who.auth).expect(200);
        expect(l.body.items).toEqual([expect.objectContaining({ id: res.body.id, url })]);
        expect(JSON.stringify(l.body)).not.toContain('secret');
      }
      expectProblem(await api.req().get(hooks()).set(t.billing.auth), 403, 'forbidden');
      expectProblem(await api.req().post(hooks()).set(t.member.auth).send({ url }), 403, 'forbidden');
      expectProblem(await api.req().delete(`${hooks()}/${res.body.id}`).set(t.member.auth), 403, 'forbidden');
      expectProblem(await api.req().get(`${hooks()}/${res.body.id}/deliveries`).set(t.billing.auth), 403, 'forbidden');

      // Another org can neither see nor delete it.
      expectProblem(await api.req().get(hooks()).set(other.owner.auth), 404, 'not_found');
      expectProblem(
        await api
          .req()
          .delete(`${hooks(other.org.slug)}/${res.body.id}`)
          .set(other.owner.auth),
        404,
        'not_found',
      );
      expectProblem(
        await api
          .req()
          .get(`${hooks(other.org.slug)}/${res.body.id}/deliveries`)
          .set(other.owner.auth),
        404,
        'not_found',
      );

      await api.req().delete(`${hooks()}/${res.body.id}`).set(t.admin.auth).expect(204);
      expectProblem(await api.req().delete(`${hooks()}/${res.body.id}`).set(t.admin.auth), 404, 'not_found');
      expectProblem(await api.req().delete(`${hooks()}/not-a-uuid`).set(t.admin.auth), 404, 'not_found');
      expectProblem(await api.req().get(`${hooks()}/${randomUUID()}/deliveries`).set(t.admin.auth), 404, 'not_found');

      const log = await api.prisma.db.activityLog.findMany({
        where: { orgId: t.org.id, targetId: res.body.id },
        orderBy: { createdAt: 'asc' },
      });
      expect(log.map((l) => [l.action, l.actorId])).toEqual([
        ['audit_webhook.created', t.owner.id],
        ['audit_webhook.deleted', t.admin.id],
      ]);
    });

    it.each([
      [{ url: 'ftp://siem.example/x' }, 'url'],
      [{ url: 'not a url' }, 'url'],
      [{ url: 'https://user:pw@siem.example/x' }, 'url'],
      [{}, 'url'],
      [{ url: 'https://siem.example/x', startAt: 'yesterday' }, 'startAt'],
      [{ url: 'https://siem.example/x', secret: 'mine' }, ''],
    ])('refuses %j with a 400 problem', async (body, path) => {
      const res = await api.req().post(hooks()).set(t.owner.auth).send(body);
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    });

    it('refuses a bad deliveries query and caps webhooks per org', async () => {
      const first = await create('https://siem.example/0');
      expectProblem(await api.req().get(`${hooks()}/${first.id}/deliveries?limit=0`).set(t.owner.auth), 400, 'validation_failed');
      expectProblem(
        await api.req().get(`${hooks()}/${first.id}/deliveries?cursor=${randomUUID()}`).set(t.owner.auth),
        400,
        'validation_failed',
      );
      for (let i = 1; i < 10; i++) await create(`https://siem.example/${i}`);
      expectProblem(await api.req().post(hooks()).set(t.owner.auth).send({ url: 'https://siem.example/10' }), 409, 'conflict');
    });
  });

  describe('delivery', () => {
    it('delivers new events in signed NDJSON batches, in order, and logs each delivery', async () => {
      await produce(t.org.id, 3); // before the webhook: not delivered (startAt now)
      siem.secret = (await create(await siem.start())).secret;
      const hook = (await api.prisma.db.auditWebhook.findFirstOrThrow({ where: { orgId: t.org.id } })).id;
      const head0 = Number((await api.prisma.db.auditHead.findUniqueOrThrow({ where: { orgId: t.org.id } })).seq);
      await produce(t.org.id, 7);

      await expect(deliverer().run()).resolves.toMatchObject({ scheduled: 2, delivered: 2, failed: 0 });
      expect(siem.received).toHaveLength(2);
      expect(siem.received.every((r) => r.signatureValid)).toBe(true);
      expect(siem.received.map((r) => r.headers['x-toolgate-seq-range'])).toEqual([
        `${head0 + 1}-${head0 + 5}`,
        `${head0 + 6}-${head0 + 7}`,
      ]);
      expect(siem.received[0]!.headers).toMatchObject({ 'content-type': 'application/x-ndjson', 'x-toolgate-webhook': hook });
      const lines = siem.events();
      expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 7 }, (_, i) => head0 + 1 + i));
      // The lines are export lines: the SIEM can verify the chain from the event before.
      const prev = await api.prisma.db.auditEvent.findFirstOrThrow({ where: { orgId: t.org.id, seq: BigInt(head0) } });
      const ndjson = [
        JSON.stringify({ type: 'header' }),
        ...siem.received.map((r) => r.body.trim()),
        JSON.stringify({ type: 'end', count: 7, complete: true, lastHash: lines.at(-1)!.hash }),
      ].join('\n');
      expect(verifyExport(ndjson, prev.hash)).toMatchObject({ ok: true, events: 7 });

      const log = await deliveries(hook);
      expect(log).toEqual([
        expect.objectContaining({
          fromSeq: head0 + 6,
          toSeq: head0 + 7,
          status: 'delivered',
          attempts: 1,
          responseStatus: 200,
          lastError: null,
          nextAttemptAt: null,
        }),
        expect.objectContaining({ fromSeq: head0 + 1, toSeq: head0 + 5, status: 'delivered', attempts: 1, responseStatus: 200 }),
      ]);
      const listed = await api.req().get(hooks()).set(t.member.auth).expect(200);
      expect(listed.body.items[0].deliveredSeq).toBe(head0 + 7);

      // Nothing new: nothing sent. New events: the next delivery resumes after deliveredSeq,
      // also from another worker process (the state is in the database).
      await expect(deliverer().run()).resolves.toMatchObject({ scheduled: 0, delivered: 0 });
      await produce(t.org.id, 2);
      const second = await startAuditWorker({ QUEUE_PREFIX: `${prefix}-2` });
      try {
        await expect(second.get(AuditWebhookDeliverer).run()).resolves.toMatchObject({ delivered: 1 });
      } finally {
        await second.close();
      }
      expect(siem.received.map((r) => r.headers['x-toolgate-seq-range']).at(-1)).toBe(`${head0 + 8}-${head0 + 9}`);
      expect(siem.events().map((l) => l.seq)).toEqual(Array.from({ length: 9 }, (_, i) => head0 + 1 + i));

      // Pages of the delivery log.
      const page1 = await api.req().get(`${hooks()}/${hook}/deliveries?limit=2`).set(t.member.auth).expect(200);
      expect(page1.body.items.map((d: { fromSeq: number }) => d.fromSeq)).toEqual([head0 + 8, head0 + 6]);
      const page2 = await api
        .req()
        .get(`${hooks()}/${hook}/deliveries?limit=2&cursor=${page1.body.nextCursor}`)
        .set(t.member.auth)
        .expect(200);
      expect(page2.body).toEqual({ items: [expect.objectContaining({ fromSeq: head0 + 1 })], nextCursor: null });
    });

    it("delivers the whole retained chain first with startAt 'beginning', and nothing while disabled", async () => {
      const orgId = other.org.id;
      await produce(orgId, 4);
      const url = await siem.start();
      const off = await create(url, { enabled: false }, other);
      await expect(deliverer().run()).resolves.toMatchObject({ scheduled: 0, delivered: 0 });
      await api
        .req()
        .delete(`${hooks(other.org.slug)}/${off.id}`)
        .set(other.owner.auth)
        .expect(204);
      siem.secret = (await create(url, { startAt: 'beginning' }, other)).secret;
      await deliverer().run();
      const head = Number((await api.prisma.db.auditHead.findUniqueOrThrow({ where: { orgId } })).seq);
      expect(siem.events().map((l) => l.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
      expect(siem.received.every((r) => r.signatureValid)).toBe(true);
    });

    it('retries a failing endpoint with exponential backoff, then succeeds with the same delivery', async () => {
      siem.secret = (await create(await siem.start())).secret;
      const hook = (await api.prisma.db.auditWebhook.findFirstOrThrow({ where: { orgId: t.org.id } })).id;
      siem.script = [500, 503, 302];
      await produce(t.org.id, 3);
      // A controlled clock: attempts happen only once their backoff has passed.
      const t0 = Date.now();
      let now = t0;
      const run = (at: number) => {
        now = at;
        return deliverer().run(() => new Date(now));
      };

      await expect(run(t0)).resolves.toMatchObject({ scheduled: 1, failed: 1 });
      let [d] = await deliveries(hook);
      expect(d).toMatchObject({
        status: 'retrying',
        attempts: 1,
        responseStatus: 500,
        lastError: 'HTTP 500',
        nextAttemptAt: new Date(t0 + 200).toISOString(),
      });
      await expect(run(t0 + 150)).resolves.toMatchObject({ delivered: 0, failed: 0 }); // not yet
      await expect(run(t0 + 200)).resolves.toMatchObject({ failed: 1 }); // attempt 2: 503, then wait 400
      [d] = await deliveries(hook);
      expect(d).toMatchObject({ attempts: 2, responseStatus: 503, nextAttemptAt: new Date(t0 + 600).toISOString() });
      await expect(run(t0 + 599)).resolves.toMatchObject({ failed: 0 });
      await expect(run(t0 + 600)).resolves.toMatchObject({ failed: 1 }); // attempt 3: a redirect is not followed, then wait 800
      [d] = await deliveries(hook);
      expect(d).toMatchObject({
        attempts: 3,
        responseStatus: 302,
        lastError: 'HTTP 302',
        nextAttemptAt: new Date(t0 + 1400).toISOString(),
      });
      await expect(run(t0 + 1400)).resolves.toMatchObject({ delivered: 1 });
      [d] = await deliveries(hook);
      expect(d).toMatchObject({ status: 'delivered', attempts: 4, responseStatus: 200, lastError: null });

      // Every attempt carried the same delivery id and body, each freshly signed.
      expect(siem.received).toHaveLength(4);
      expect(new Set(siem.received.map((r) => r.headers['x-toolgate-delivery'])).size).toBe(1);
      expect(new Set(siem.received.map((r) => r.body)).size).toBe(1);
      expect(siem.received.every((r) => r.signatureValid)).toBe(true);
    });

    it('caps the backoff and records network errors and timeouts', async () => {
      // Connection refused: a port nothing listens on (the SIEM started and stopped).
      const refusedUrl = await siem.start();
      await siem.close();
      const refused = await create(refusedUrl);
      await produce(t.org.id, 1);
      const capped = await startAuditWorker({
        QUEUE_PREFIX: `${prefix}-cap`,
        AUDIT_WEBHOOK_RETRY_MS: '1000',
        AUDIT_WEBHOOK_MAX_BACKOFF_MS: '1500',
      });
      try {
        const d = capped.get(AuditWebhookDeliverer);
        const t0 = Date.now();
        await d.run(() => new Date(t0));
        expect((await deliveries(refused.id))[0]!.nextAttemptAt).toBe(new Date(t0 + 1000).toISOString());
        await d.run(() => new Date(t0 + 1000));
        // 2000 ms would be next: capped at 1500.
        expect((await deliveries(refused.id))[0]!.nextAttemptAt).toBe(new Date(t0 + 2500).toISOString());
        await d.run(() => new Date(t0 + 2500));
        const [row] = await deliveries(refused.id);
        expect(row).toMatchObject({ status: 'retrying', attempts: 3, responseStatus: null, lastError: 'ECONNREFUSED' });
        expect(row!.nextAttemptAt).toBe(new Date(t0 + 4000).toISOString());
      } finally {
        await capped.close();
      }
      await api.req().delete(`${hooks()}/${refused.id}`).set(t.owner.auth).expect(204);

      // No answer within AUDIT_WEBHOOK_TIMEOUT_MS (500 ms here).
      siem = new Siem();
      siem.script = ['hang'];
      const hanging = await create(await siem.start());
      await produce(t.org.id, 1);
      const started = Date.now();
      await expect(deliverer().run()).resolves.toMatchObject({ failed: 1 });
      expect(Date.now() - started).toBeLessThan(5000);
      const [row] = await deliveries(hanging.id);
      expect(row).toMatchObject({ status: 'retrying', attempts: 1, lastError: 'timed out after 500 ms' });
    });

    it('records a secret that cannot be opened (sealed for another org) as a failed attempt', async () => {
      const hook = await create(await siem.start());
      await api.prisma.db.auditWebhook.update({
        where: { id: hook.id },
        data: { secret: sealSecret(api.env.TOOLGATE_SECRET_KEY, other.org.id, 'whsec_x') },
      });
      await produce(t.org.id, 1);
      await expect(deliverer().run()).resolves.toMatchObject({ failed: 1, delivered: 0 });
      const [row] = await deliveries(hook.id);
      expect(row).toMatchObject({
        status: 'retrying',
        attempts: 1,
        responseStatus: null,
        lastError: expect.stringMatching(/authenticate/),
      });
      expect(siem.received).toHaveLength(0);
    });

    it('records events pruned before delivery as skipped and goes on with the rest', async () => {
      const fresh = await team(api, 'siem-prune');
      const orgId = fresh.org.id;
      await produce(orgId, 6);
      const w = await create(await siem.start(), { startAt: 'beginning' }, fresh);
      siem.secret = w.secret;
      const prune = async () => {
        await new Promise((r) => setTimeout(r, 15));
        await worker.get(AuditRetention).pruneBefore(new Date(), orgId);
      };
      const log = async () =>
        (await api.prisma.db.auditDelivery.findMany({ where: { webhookId: w.id }, orderBy: { fromSeq: 'asc' } })).map((l) => [
          Number(l.fromSeq),
          Number(l.toSeq),
          l.status,
        ]);

      // Pruned before the delivery was even opened.
      await prune();
      await produce(orgId, 2);
      await expect(deliverer().run()).resolves.toMatchObject({ skipped: 1, delivered: 1 });
      expect(await log()).toEqual([
        [1, 6, 'skipped'],
        [7, 8, 'delivered'],
      ]);
      expect(siem.events().map((l) => l.seq)).toEqual([7, 8]);

      // Pruned while a delivery was waiting for its retry.
      siem.script = [500];
      await produce(orgId, 3);
      const t0 = Date.now();
      await expect(deliverer().run(() => new Date(t0))).resolves.toMatchObject({ failed: 1 });
      await prune();
      await produce(orgId, 1);
      await expect(deliverer().run(() => new Date(t0 + 60_000))).resolves.toMatchObject({ skipped: 1, delivered: 1 });
      expect(await log()).toEqual([
        [1, 6, 'skipped'],
        [7, 8, 'delivered'],
        [9, 11, 'skipped'],
        [12, 12, 'delivered'],
      ]);
      const skipped = await api.prisma.db.auditDelivery.findMany({ where: { webhookId: w.id, status: 'skipped' } });
      expect(skipped.every((d) => /pruned by retention/.test(d.lastError ?? ''))).toBe(true);
      // 9-11 was attempted once (answered 500) before it was pruned; it was never sent again.
      expect(siem.received.map((r) => r.headers['x-toolgate-seq-range'])).toEqual(['7-8', '9-11', '12-12']);
      expect(siem.received.every((r) => r.signatureValid)).toBe(true);
      const listed = await api.req().get(hooks(fresh.org.slug)).set(fresh.member.auth).expect(200);
      expect(listed.body.items[0].deliveredSeq).toBe(12);
    });

    it('stops delivering once the org is deleted (its chain stays)', async () => {
      const doomed = await team(api, 'siem-doomed');
      siem.secret = (await create(await siem.start(), {}, doomed)).secret;
      await produce(doomed.org.id, 2);
      await api.req().delete(`/v1/orgs/${doomed.org.slug}`).set(doomed.owner.auth).send({ confirm: doomed.org.slug }).expect(204);
      await expect(deliverer().run()).resolves.toMatchObject({ scheduled: 0, delivered: 0 });
      expect(siem.received).toHaveLength(0);
      expect(await count(doomed.org.id)).toBe(2);
    });

    it('delivers each range exactly once when several workers deliver at the same time', async () => {
      siem.secret = (await create(await siem.start(), { startAt: 'beginning' })).secret;
      await produce(t.org.id, 20);
      const head = Number((await api.prisma.db.auditHead.findUniqueOrThrow({ where: { orgId: t.org.id } })).seq);
      const others = [await startAuditWorker({ QUEUE_PREFIX: `${prefix}-a` }), await startAuditWorker({ QUEUE_PREFIX: `${prefix}-b` })];
      try {
        const all = [deliverer(), ...others.map((o) => o.get(AuditWebhookDeliverer))];
        await waitFor(
          async () => {
            await Promise.all(all.map((d) => d.run()));
            return siem.events().at(-1)?.seq === head;
          },
          60_000,
          'everything delivered',
        );
      } finally {
        for (const o of others) await o.close();
      }
      const ranges = siem.received.map((r) => r.headers['x-toolgate-seq-range']);
      expect(new Set(ranges).size).toBe(ranges.length);
      expect(siem.events().map((l) => l.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    });

    it('delivers on its timer', async () => {
      const timed = await startAuditWorker({ QUEUE_PREFIX: `${prefix}-timer`, AUDIT_WEBHOOK_INTERVAL_MS: '50' });
      try {
        siem.secret = (await create(await siem.start())).secret;
        await produce(t.org.id, 3);
        await waitFor(() => siem.events().length === 3, 10_000, 'the timer to deliver');
        expect(siem.received.every((r) => r.signatureValid)).toBe(true);
      } finally {
        await timed.close();
      }
    });
  });
});
