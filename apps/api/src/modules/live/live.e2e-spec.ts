import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import { channels, redisKeys } from '@toolgate/contracts';
import WebSocket from 'ws';
import { type Api, expectProblem, signup, startApi, type TestUser } from '../../../test/harness';
import { AuditChainWriter } from '../audit/audit.chain-writer';
import { AuditProducer, auditEvent, queuePrefix, startAuditWorker, waitFor } from '../audit/audit.test-fixtures';
import { type Team, team } from '../members/members.fixtures';
import { AuditLiveGateway, LiveClose } from './live.gateway';

jest.setTimeout(60_000);

const WEB_ORIGIN = 'http://dashboard.test:3000';

interface Frame {
  type: string;
  [k: string]: unknown;
}

/** A WebSocket client that records frames and how it closed. */
class LiveClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly ws: WebSocket;

  constructor(url: string, origin: string | null = WEB_ORIGIN, opts: { autoPong?: boolean } = {}) {
    this.ws = new WebSocket(url, { ...opts, ...(origin ? { headers: { Origin: origin } } : {}) });
    this.ws.on('message', (d) => this.frames.push(JSON.parse(String(d)) as Frame));
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  async frame(pred: (f: Frame) => boolean, what = 'frame'): Promise<Frame> {
    await waitFor(() => this.frames.some(pred), 10_000, what);
    return this.frames.find(pred)!;
  }

  ready(): Promise<Frame> {
    return this.frame((f) => f.type === 'ready', 'ready frame');
  }

  /** The audit events received so far, in arrival order. */
  events(): Array<Record<string, unknown>> {
    return this.frames.filter((f) => f.type === 'audit').flatMap((f) => f.events as Array<Record<string, unknown>>);
  }

  close(): void {
    this.ws.close();
  }
}

describe('live audit events (WebSocket)', () => {
  let api: Api;
  let base: string;
  let worker: INestApplicationContext;
  let writer: AuditChainWriter;
  let producer: AuditProducer;
  let a: Team;
  let b: Team;
  let outsider: TestUser;
  const clients: LiveClient[] = [];

  /** The ticket's URL with the test server's port (PUBLIC_API_URL points elsewhere on purpose). */
  const local = (url: string) => url.replace(/^ws:\/\/127\.0\.0\.1:1/, base);
  const ticketFor = (user: TestUser, org: string) => api.req().post(`/v1/orgs/${org}/audit/live-ticket`).set(user.auth);
  const connect = async (user: TestUser, org: string, origin?: string | null) => {
    const res = await ticketFor(user, org).expect(200);
    const c = new LiveClient(`${local(res.body.url)}?ticket=${res.body.ticket}`, origin);
    clients.push(c);
    return { client: c, ticket: res.body.ticket as string, url: res.body.url as string };
  };
  const open = (url: string, origin?: string | null, opts?: { autoPong?: boolean }) => {
    const c = new LiveClient(url, origin, opts);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    api = await startApi({ CORS_ORIGINS: `http://other.test, ${WEB_ORIGIN}`, PUBLIC_API_URL: 'http://127.0.0.1:1' });
    await new Promise<void>((resolve) => api.http.listen(0, '127.0.0.1', resolve));
    base = `ws://127.0.0.1:${(api.http.address() as AddressInfo).port}`;
    const prefix = queuePrefix();
    producer = new AuditProducer(prefix);
    worker = await startAuditWorker({ QUEUE_PREFIX: prefix, AUDIT_BATCH_WAIT_MS: '10' });
    writer = worker.get(AuditChainWriter);
    [a, b] = [await team(api, 'live-a'), await team(api, 'live-b')];
    outsider = await signup(api, 'live-outsider');
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    await worker?.close();
    await producer?.close();
    await api?.close();
  });

  describe('POST /audit/live-ticket', () => {
    it('gives readers a single-use ticket bound in Redis for 30 s, and the ws:// URL from PUBLIC_API_URL', async () => {
      for (const user of [a.owner, a.admin, a.member]) {
        const res = await ticketFor(user, a.org.slug).expect(200);
        expect(res.body).toEqual({ ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), url: 'ws://127.0.0.1:1/v1/live', expiresIn: 30 });
        const key = redisKeys.liveTicket(createHash('sha256').update(res.body.ticket).digest('hex'));
        expect(JSON.parse((await api.redis.client.get(key))!)).toEqual({ userId: user.id, orgId: a.org.id });
        const ttl = await api.redis.client.ttl(key);
        expect(ttl).toBeGreaterThan(25);
        expect(ttl).toBeLessThanOrEqual(30);
        // Only the hash is stored: the ticket itself is nowhere in Redis.
        expect(await api.redis.client.exists(redisKeys.liveTicket(res.body.ticket))).toBe(0);
      }
    });

    it('refuses the billing role (403), non-members (404) and anonymous callers (401)', async () => {
      expectProblem(await ticketFor(a.billing, a.org.slug), 403);
      expectProblem(await ticketFor(outsider, a.org.slug), 404);
      expectProblem(await ticketFor(b.owner, a.org.slug), 404);
      expectProblem(await api.req().post(`/v1/orgs/${a.org.slug}/audit/live-ticket`), 401);
    });

    it('builds wss:// URLs for an https API, keeping a path prefix', async () => {
      const other = await startApi({ PUBLIC_API_URL: 'https://api.example.test/toolgate/' });
      try {
        await waitFor(() => other.redis.ready, 5000, 'redis'); // commands fail fast until connected
        const res = await other.req().post(`/v1/orgs/${a.org.slug}/audit/live-ticket`).set(a.member.auth).expect(200);
        expect(res.body.url).toBe('wss://api.example.test/toolgate/v1/live');
      } finally {
        await other.close();
      }
    });
  });

  describe('the socket', () => {
    it("delivers the org's newly appended events (summaries only) and nothing of other orgs", async () => {
      const { client } = await connect(a.member, a.org.slug);
      await client.ready();
      expect(client.frames[0]).toEqual({ type: 'ready', orgId: a.org.id });
      expect(api.app.get(AuditLiveGateway).socketsOf(a.org.id)).toBe(1);

      const mineB = auditEvent({ orgId: b.org.id, target: 'b-only' });
      await writer.append(b.org.id, [{ id: mineB.id, payload: mineB }]);
      const keyId = randomUUID();
      const ev = auditEvent({
        orgId: a.org.id,
        keyId,
        decision: 'deny',
        outcome: 'denied',
        target: 'delete_file',
        rule: 'role:r/tools[1]',
      });
      await writer.append(a.org.id, [{ id: ev.id, payload: ev }]);

      const frame = await client.frame((f) => f.type === 'audit', 'audit frame');
      expect(frame).toEqual({
        type: 'audit',
        omitted: 0,
        events: [
          {
            id: ev.id,
            seq: expect.any(Number),
            kind: 'call',
            at: ev.at,
            method: 'tools/call',
            target: 'delete_file',
            keyId,
            serverId: null,
            serverSlug: 'files',
            decision: 'deny',
            outcome: 'denied',
            rule: 'role:r/tools[1]',
            latencyMs: ev.latencyMs,
            clientName: 'claude-code',
          },
        ],
      });
      // The same seq the REST API shows.
      const listed = await api.req().get(`/v1/orgs/${a.org.slug}/audit?limit=1`).set(a.member.auth).expect(200);
      expect(frame.events).toEqual([expect.objectContaining({ id: listed.body.items[0].id, seq: listed.body.items[0].seq })]);
      // Give org B's notice time to arrive if it were (wrongly) routed here.
      await new Promise((r) => setTimeout(r, 300));
      expect(client.events().map((e) => e.id)).toEqual([ev.id]);
    });

    it('carries events through the real path: tg-audit queue → worker consumer → chain writer → Redis → socket', async () => {
      const { client } = await connect(a.admin, a.org.slug);
      const other = (await connect(b.member, b.org.slug)).client;
      await Promise.all([client.ready(), other.ready()]);
      const batch = [1, 2, 3].map((i) => auditEvent({ orgId: a.org.id, target: `tool-${i}` }));
      const stranger = auditEvent({ orgId: b.org.id, target: 'b-tool' });
      await producer.add([...batch, stranger]);
      await waitFor(() => client.events().length >= 3, 15_000, 'three live events');
      await waitFor(() => other.events().length >= 1, 15_000, "org B's live event");
      expect(client.events().map((e) => e.target)).toEqual(['tool-1', 'tool-2', 'tool-3']);
      expect(other.events().map((e) => e.id)).toEqual([stranger.id]);
      // seq increases by one along the chain.
      const seqs = client.events().map((e) => e.seq as number);
      expect(seqs).toEqual([seqs[0], seqs[0]! + 1, seqs[0]! + 2]);
    });

    it('sends every open socket of the org the same events, and unsubscribes when the last one closes', async () => {
      const [one, two] = [(await connect(a.owner, a.org.slug)).client, (await connect(a.member, a.org.slug)).client];
      await Promise.all([one.ready(), two.ready()]);
      const ev = auditEvent({ orgId: a.org.id });
      await writer.append(a.org.id, [{ id: ev.id, payload: ev }]);
      await waitFor(() => one.events().length === 1 && two.events().length === 1, 10_000, 'both sockets');
      one.close();
      two.close();
      const gw = api.app.get(AuditLiveGateway);
      await waitFor(() => gw.socketsOf(a.org.id) === 0, 5000, 'sockets to go');
      await waitFor(
        async () => {
          const [, n] = (await api.redis.client.pubsub('NUMSUB', channels.auditLive(a.org.id))) as [string, number];
          return Number(n) === 0;
        },
        5000,
        'unsubscribe',
      );
    });

    it('caps a large append at the newest 100 events and counts the rest', async () => {
      const { client } = await connect(a.member, a.org.slug);
      await client.ready();
      const many = Array.from({ length: 130 }, (_, i) => auditEvent({ orgId: a.org.id, target: `bulk-${i}` }));
      await writer.append(
        a.org.id,
        many.map((e) => ({ id: e.id, payload: e })),
      );
      const frame = await client.frame((f) => f.type === 'audit');
      expect(frame.omitted).toBe(30);
      expect((frame.events as Array<{ target: string }>).map((e) => e.target)).toEqual(many.slice(30).map((e) => e.target));
    });
  });

  describe('refusals (closed with a 4xxx code, the server carries on)', () => {
    it('refuses a reused ticket with 4401', async () => {
      const { client, ticket, url } = await connect(a.member, a.org.slug);
      await client.ready();
      const again = open(`${local(url)}?ticket=${ticket}`);
      expect(await again.closed).toEqual({ code: LiveClose.Ticket, reason: 'ticket unknown, expired or already used' });
      expect(again.frames).toEqual([]);
    });

    it('refuses an expired ticket with 4401', async () => {
      const res = await ticketFor(a.member, a.org.slug).expect(200);
      const key = redisKeys.liveTicket(createHash('sha256').update(res.body.ticket).digest('hex'));
      await api.redis.client.pexpire(key, 1); // what 30 s of waiting does
      await new Promise((r) => setTimeout(r, 20));
      const c = open(`${local(res.body.url)}?ticket=${res.body.ticket}`);
      expect((await c.closed).code).toBe(LiveClose.Ticket);
    });

    it('refuses a missing or made-up ticket with 4401', async () => {
      expect((await open(`${base}/v1/live`).closed).code).toBe(LiveClose.Ticket);
      expect((await open(`${base}/v1/live?ticket=${'x'.repeat(43)}`).closed).code).toBe(LiveClose.Ticket);
      expect((await open(`${base}/v1/live?ticket=%00%27;DROP`).closed).code).toBe(LiveClose.Ticket);
    });

    it('refuses an origin not in CORS_ORIGINS with 4403 (and the ticket stays unused)', async () => {
      const res = await ticketFor(a.member, a.org.slug).expect(200);
      const evil = open(`${local(res.body.url)}?ticket=${res.body.ticket}`, 'http://evil.test');
      expect(await evil.closed).toEqual({ code: LiveClose.Forbidden, reason: 'origin not allowed' });
      // Other listed origins work; so does a client that sends no Origin (not a browser).
      const ok = open(`${local(res.body.url)}?ticket=${res.body.ticket}`, 'http://other.test');
      await ok.ready();
      const script = (await connect(a.member, a.org.slug, null)).client;
      await script.ready();
    });

    it('refuses a ticket whose holder left the org, or lost read access, before connecting (4403)', async () => {
      const left = await signup(api, 'live-leaver');
      await api.prisma.db.membership.create({ data: { orgId: a.org.id, userId: left.id, role: 'member' } });
      const res1 = await ticketFor(left, a.org.slug).expect(200);
      const res2 = await ticketFor(left, a.org.slug).expect(200);
      await api.prisma.db.membership.update({ where: { orgId_userId: { orgId: a.org.id, userId: left.id } }, data: { role: 'billing' } });
      expect((await open(`${local(res1.body.url)}?ticket=${res1.body.ticket}`).closed).code).toBe(LiveClose.Forbidden);
      await api.prisma.db.membership.delete({ where: { orgId_userId: { orgId: a.org.id, userId: left.id } } });
      expect((await open(`${local(res2.body.url)}?ticket=${res2.body.ticket}`).closed).code).toBe(LiveClose.Forbidden);
    });

    it('ignores what clients send and still serves others afterwards', async () => {
      const { client } = await connect(a.member, a.org.slug);
      await client.ready();
      client.ws.send('not json');
      client.ws.send(JSON.stringify({ event: 'subscribe', data: { orgId: b.org.id } }));
      const ev = auditEvent({ orgId: a.org.id });
      await writer.append(a.org.id, [{ id: ev.id, payload: ev }]);
      await waitFor(() => client.events().length === 1, 10_000, 'event after junk');
      // An oversized frame closes only that socket (1009), not the server.
      client.ws.send('x'.repeat(10_000));
      expect((await client.closed).code).toBe(1009);
      await api.req().get('/healthz').expect(200);
    });

    it('heartbeat: drops a socket that stops answering pings, and one whose member was removed (4403)', async () => {
      const gw = api.app.get(AuditLiveGateway);
      const res = await ticketFor(a.member, a.org.slug).expect(200);
      // A client that never answers pings (a dead peer looks like this).
      const silent = open(`${local(res.body.url)}?ticket=${res.body.ticket}`, undefined, { autoPong: false });
      const leaver = await signup(api, 'live-hb');
      await api.prisma.db.membership.create({ data: { orgId: a.org.id, userId: leaver.id, role: 'admin' } });
      const removed = (await connect(leaver, a.org.slug)).client;
      const healthy = (await connect(a.owner, a.org.slug)).client;
      await Promise.all([silent.ready(), removed.ready(), healthy.ready()]);
      await api.prisma.db.membership.delete({ where: { orgId_userId: { orgId: a.org.id, userId: leaver.id } } });

      await gw.beat();
      expect(await removed.closed).toEqual({ code: LiveClose.Forbidden, reason: 'no longer allowed to read this audit log' });
      await new Promise((r) => setTimeout(r, 200)); // pongs come back
      await gw.beat();
      expect((await silent.closed).code).toBe(1006); // terminated
      expect(healthy.ws.readyState).toBe(WebSocket.OPEN);
    });

    it('does not answer upgrades on other paths', async () => {
      const c = open(`${base}/v1/elsewhere`);
      expect((await c.closed).code).toBe(1006);
    });
  });
});
