import { createHash, randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import type { AuditEvent } from '@toolgate/contracts';
import type request from 'supertest';
import { type Api, expectProblem, signup, startApi, type TestUser } from '../../../test/harness';
import { type Team, team } from '../members/members.fixtures';
import { ActivityMirror } from './audit.activity-mirror';
import { AuditVerifier } from './audit.verify';
import { AuditProducer, auditEvent, jcs, queuePrefix, startAuditWorker, verifyExport, waitFor } from './audit.test-fixtures';

jest.setTimeout(120_000);

/** Collects a streamed response body as text (supertest buffers JSON only). */
const text = (r: request.Test) =>
  r.buffer(true).parse((res, cb) => {
    let data = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      data += c;
    });
    res.on('end', () => cb(null, data));
  });

describe('audit API', () => {
  let api: Api;
  let worker: INestApplicationContext;
  let producer: AuditProducer;
  let t: Team;
  let other: Team;
  let outsider: TestUser;
  /**
   * Org A's gateway events in seq order. The chain's order is the order the worker received them
   * (BullMQ with concurrency may hand two neighbours over swapped), not the order they were enqueued.
   */
  let events: AuditEvent[];
  const keyA = randomUUID();
  const keyB = randomUUID();
  const srv1 = randomUUID();
  const srv2 = randomUUID();
  const base = Date.parse('2026-03-01T00:00:00.000Z');

  const url = (org: string, rest = '') => `/v1/orgs/${org}/audit${rest}`;
  const list = (user: TestUser, query = '', org = t.org.slug) =>
    api
      .req()
      .get(`${url(org)}${query}`)
      .set(user.auth);

  /** Enqueues as the gateway does and waits until the org's chain holds `total` events. */
  async function produce(orgId: string, batch: AuditEvent[], total: number): Promise<void> {
    await producer.add(batch);
    await waitFor(async () => (await api.prisma.db.auditEvent.count({ where: { orgId } })) === total, 30_000, `${total} events`);
  }

  beforeAll(async () => {
    api = await startApi();
    const prefix = queuePrefix();
    producer = new AuditProducer(prefix);
    worker = await startAuditWorker({ QUEUE_PREFIX: prefix, AUDIT_BATCH_WAIT_MS: '10' });
    [t, other] = [await team(api, 'audit'), await team(api, 'audit-other')];
    outsider = await signup(api, 'audit-outsider');

    // 40 calls over 40 minutes: two keys, two servers, several tools, methods and outcomes.
    events = Array.from({ length: 40 }, (_, i) =>
      auditEvent({
        orgId: t.org.id,
        keyId: i % 2 === 0 ? keyA : keyB,
        serverId: i % 4 < 2 ? srv1 : srv2,
        serverSlug: i % 4 < 2 ? 'files' : 'crm',
        method: i % 10 === 9 ? 'tools/list' : 'tools/call',
        target: i % 10 === 9 ? null : i % 3 === 0 ? 'search' : 'read_file',
        decision: i % 5 === 4 ? 'deny' : 'allow',
        outcome: i % 5 === 4 ? 'denied' : i % 7 === 6 ? 'error' : i % 11 === 10 ? 'cancelled' : 'ok',
        error: i % 7 === 6 ? 'boom' : i % 11 === 10 ? 'The call was cancelled: changed my mind' : null,
        at: new Date(base + i * 60_000).toISOString(),
      }),
    );
    await produce(t.org.id, events, 40);
    const order = await api.prisma.db.auditEvent.findMany({ where: { orgId: t.org.id }, orderBy: { seq: 'asc' }, select: { id: true } });
    const byId = new Map(events.map((e) => [e.id, e]));
    expect(new Set(order.map((r) => r.id))).toEqual(new Set(byId.keys()));
    events = order.map((r) => byId.get(r.id)!);
    await produce(other.org.id, [auditEvent({ orgId: other.org.id })], 1);
  });

  afterAll(async () => {
    await worker.close();
    await producer.close();
    await api.close();
  });

  describe('GET /audit', () => {
    it('lists newest first (by seq) and pages with nextCursor until null', async () => {
      const seen: Array<{ id: string; seq: number }> = [];
      let cursor: string | null = null;
      do {
        const res: request.Response = await list(t.member, `?limit=7${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
        expect(res.body.items.length).toBeLessThanOrEqual(7);
        seen.push(...res.body.items);
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen.map((i) => i.seq)).toEqual(Array.from({ length: 40 }, (_, i) => 40 - i));
      expect(seen.map((i) => i.id)).toEqual(events.map((e) => e.id).reverse());
    });

    it('shows each call with its columns and no hashes or arguments', async () => {
      const res = await list(t.owner, '?limit=1').expect(200);
      const last = events.at(-1)!;
      expect(res.body.items[0]).toEqual({
        id: last.id,
        seq: 40,
        kind: 'call',
        at: last.at,
        receivedAt: expect.any(String),
        method: last.method,
        target: last.target,
        keyId: last.keyId,
        serverId: last.serverId,
        serverSlug: last.serverSlug,
        decision: last.decision,
        outcome: last.outcome,
        rule: last.rule,
        error: last.error,
        latencyMs: last.latencyMs,
        bytesIn: last.bytesIn,
        bytesOut: last.bytesOut,
        clientName: last.clientName,
        clientVersion: last.clientVersion,
        oauth: null,
        sessionId: last.sessionId,
        ip: last.ip,
        actorId: null,
      });
    });

    it.each([
      ['keyId', () => `keyId=${keyB}`, (e: AuditEvent) => e.keyId === keyB],
      ['serverId', () => `serverId=${srv2.toUpperCase()}`, (e: AuditEvent) => e.serverId === srv2],
      ['target', () => 'target=search', (e: AuditEvent) => e.target === 'search'],
      ['method', () => 'method=tools/list', (e: AuditEvent) => e.method === 'tools/list'],
      ['decision', () => 'decision=deny', (e: AuditEvent) => e.decision === 'deny'],
      ['outcome', () => 'outcome=error', (e: AuditEvent) => e.outcome === 'error'],
      ['outcome cancelled', () => 'outcome=cancelled', (e: AuditEvent) => e.outcome === 'cancelled'],
      [
        'from/to (gateway time, to exclusive)',
        () => `from=${new Date(base + 10 * 60_000).toISOString()}&to=2026-03-01T00:20:00%2B00:00`,
        (e: AuditEvent) => Date.parse(e.at) >= base + 10 * 60_000 && Date.parse(e.at) < base + 20 * 60_000,
      ],
      [
        'several filters together',
        () => `keyId=${keyA}&target=read_file&decision=allow`,
        (e: AuditEvent) => e.keyId === keyA && e.target === 'read_file' && e.decision === 'allow',
      ],
    ])('filters by %s', async (_name, query, match) => {
      const res = await list(t.admin, `?limit=200&${query()}`).expect(200);
      const expected = events.filter(match).map((e) => e.id);
      expect(expected.length).toBeGreaterThan(0);
      expect(res.body.items.map((i: { id: string }) => i.id)).toEqual(expected.reverse());
      expect(res.body.nextCursor).toBeNull();
    });

    it.each([
      ['limit=0', 'query.limit'],
      ['limit=201', 'query.limit'],
      ['keyId=not-a-uuid', 'query.keyId'],
      ['decision=maybe', 'query.decision'],
      ['outcome=fine', 'query.outcome'],
      ['outcome=canceled', 'query.outcome'],
      ['from=yesterday', 'query.from'],
      ['from=2026-03-01T00:00:00', 'query.from'],
      ['from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', 'query.to'],
      ['cursor=abc', 'query.cursor'],
      ['cursor=0', 'query.cursor'],
      ['bogus=1', 'query'],
    ])('refuses %s with a 400 problem', async (query, path) => {
      const res = await list(t.owner, `?${query}`);
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    });
  });

  describe('GET /audit/:id', () => {
    it('returns the full record with payload and hashes', async () => {
      const e = events[3]!;
      const res = await api
        .req()
        .get(url(t.org.slug, `/${e.id}`))
        .set(t.member.auth)
        .expect(200);
      expect(res.body).toMatchObject({ id: e.id, seq: 4, kind: 'call', payload: e, prevHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(res.body.hash).toMatch(/^[0-9a-f]{64}$/);
    });

    it('answers 404 for unknown ids, malformed ids and another org’s events', async () => {
      expectProblem(
        await api
          .req()
          .get(url(t.org.slug, `/${randomUUID()}`))
          .set(t.owner.auth),
        404,
        'not_found',
      );
      expectProblem(await api.req().get(url(t.org.slug, '/12345')).set(t.owner.auth), 404, 'not_found');
      const foreign = (await api.prisma.db.auditEvent.findFirstOrThrow({ where: { orgId: other.org.id } })).id;
      expectProblem(
        await api
          .req()
          .get(url(t.org.slug, `/${foreign}`))
          .set(t.owner.auth),
        404,
        'not_found',
      );
    });
  });

  describe('roles and tenancy', () => {
    const paths = () => ['', '/verify', '/export', `/${events[0]!.id}`, '/webhooks'];

    it('lets owner, admin and member read; refuses billing (403); hides the org from non-members (404)', async () => {
      for (const p of paths()) {
        for (const who of [t.owner, t.admin, t.member]) {
          const res = await api.req().get(url(t.org.slug, p)).set(who.auth);
          expect({ p, status: res.status }).toEqual({ p, status: 200 });
        }
        expectProblem(await api.req().get(url(t.org.slug, p)).set(t.billing.auth), 403, 'forbidden');
        expectProblem(await api.req().get(url(t.org.slug, p)).set(outsider.auth), 404, 'not_found');
        // A member of another org is a stranger here, whatever their role there.
        expectProblem(await api.req().get(url(t.org.slug, p)).set(other.owner.auth), 404, 'not_found');
        expectProblem(await api.req().get(url(t.org.slug, p)), 401, 'unauthenticated');
      }
    });

    it("never shows another org's events", async () => {
      const res = await list(other.owner, '?limit=200', other.org.slug).expect(200);
      expect(res.body.items).toHaveLength(1);
      const mine = await list(t.owner, '?limit=200').expect(200);
      expect(mine.body.items.every((i: { id: string }) => events.some((e) => e.id === i.id))).toBe(true);
    });
  });

  describe('GET /audit/verify and /audit/export', () => {
    it('verifies an intact chain', async () => {
      const res = await api.req().get(url(t.org.slug, '/verify')).set(t.member.auth).expect(200);
      expect(res.body).toEqual({
        valid: true,
        checked: 40,
        firstBrokenSeq: null,
        reason: null,
        fromSeq: 1,
        headSeq: 40,
        headHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        checkpoint: null,
      });
    });

    it('streams an NDJSON export that an independent implementation verifies', async () => {
      const res = await text(api.req().get(url(t.org.slug, '/export?format=ndjson')).set(t.member.auth)).expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
      expect(res.headers['content-disposition']).toMatch(/attachment; filename="audit-/);
      const check = verifyExport(res.body as string, '0'.repeat(64));
      expect(check).toMatchObject({ ok: true, events: 40 });
      const [header, ...rest] = check.lines;
      expect(header).toMatchObject({
        type: 'header',
        format: 'toolgate-audit-export',
        orgId: t.org.id,
        chain: { algorithm: 'sha256', genesisPrevHash: '0'.repeat(64), canonicalization: expect.stringContaining('RFC 8785') },
        headSeq: 40,
      });
      expect(rest.slice(0, -1).map((l) => l.payload)).toEqual(events);
      expect(rest.at(-1)).toMatchObject({ type: 'end', count: 40, firstSeq: 1, lastSeq: 40, lastHash: header!.headHash });
    });

    it('exports the contiguous run received within from/to, which verifies on its own', async () => {
      const rows = await api.prisma.db.auditEvent.findMany({ where: { orgId: t.org.id }, orderBy: { seq: 'asc' } });
      // Three batches received at distinct times; take the middle one by receipt time.
      const extra1 = [auditEvent({ orgId: t.org.id }), auditEvent({ orgId: t.org.id })];
      await new Promise((r) => setTimeout(r, 20));
      await produce(t.org.id, extra1, 42);
      await new Promise((r) => setTimeout(r, 20));
      const later = [auditEvent({ orgId: t.org.id })];
      await produce(t.org.id, later, 43);
      const stored = await api.prisma.db.auditEvent.findMany({
        where: { id: { in: [...extra1, ...later].map((e) => e.id) } },
        orderBy: { seq: 'asc' },
      });
      const from = stored[0]!.receivedAt.toISOString();
      const to = stored[2]!.receivedAt.toISOString();
      const res = await text(
        api
          .req()
          .get(url(t.org.slug, `/export?from=${from}&to=${to}`))
          .set(t.owner.auth),
      ).expect(200);
      const check = verifyExport(res.body as string, rows.at(-1)!.hash);
      expect(check).toMatchObject({ ok: true, events: 2 });
      expect(check.lines.slice(1, -1).map((l) => l.id)).toEqual(stored.slice(0, 2).map((e) => e.id));
      expect(new Set(stored.slice(0, 2).map((e) => e.id))).toEqual(new Set(extra1.map((e) => e.id)));
      expect(check.lines[0]).toMatchObject({ filters: { from, to } });
      // An empty window is a valid, empty export.
      const none = await text(
        api.req().get(url(t.org.slug, '/export?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z')).set(t.owner.auth),
      ).expect(200);
      expect(verifyExport(none.body as string)).toMatchObject({ ok: true, events: 0 });
    });

    it.each([['format=csv'], ['from=soon'], ['to=2026-01-01T00:00:00Z&from=2026-02-01T00:00:00Z'], ['limit=5']])(
      'refuses export?%s with a 400 problem',
      async (query) => {
        expectProblem(
          await api
            .req()
            .get(url(t.org.slug, `/export?${query}`))
            .set(t.owner.auth),
          400,
          'validation_failed',
        );
      },
    );
  });

  describe('admin actions in the chain', () => {
    it('mirrors activity-log entries into the chain once settled, as admin.<action> events that verify and export', async () => {
      const mirror = worker.get(ActivityMirror);
      await api.req().patch(`/v1/orgs/${t.org.slug}`).set(t.owner.auth).send({ name: 'Audited Org' }).expect(200);
      const activity = await api.prisma.db.activityLog.findMany({
        where: { orgId: t.org.id },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      expect(activity.map((a) => a.action)).toEqual(expect.arrayContaining(['org.created', 'org.updated']));
      const before = await api.prisma.db.auditEvent.count({ where: { orgId: t.org.id } });

      // Not yet settled (AUDIT_ACTIVITY_SETTLE_MS, 30 s by default): left for later.
      await expect(mirror.mirror(t.org.id)).resolves.toBe(0);
      // Once settled: each entry once, however often the mirror runs.
      const later = new Date(Date.now() + 31_000);
      await expect(mirror.mirror(t.org.id, later)).resolves.toBe(activity.length);
      await expect(mirror.mirror(t.org.id, later)).resolves.toBe(0);
      expect(await api.prisma.db.auditEvent.count({ where: { orgId: t.org.id } })).toBe(before + activity.length);

      const res = await list(t.member, '?method=admin.org.updated').expect(200);
      const updated = activity.find((a) => a.action === 'org.updated')!;
      expect(res.body.items).toEqual([
        expect.objectContaining({
          id: updated.id,
          kind: 'admin',
          method: 'admin.org.updated',
          target: `org:${t.org.id}`,
          actorId: t.owner.id,
          decision: 'allow',
          outcome: 'ok',
        }),
      ]);
      const full = await api
        .req()
        .get(url(t.org.slug, `/${updated.id}`))
        .set(t.member.auth)
        .expect(200);
      expect(full.body.payload).toEqual({
        schemaVersion: 1,
        kind: 'admin',
        id: updated.id,
        orgId: t.org.id,
        method: 'admin.org.updated',
        actorId: t.owner.id,
        targetType: 'org',
        targetId: t.org.id,
        before: updated.before,
        after: updated.after,
        at: updated.createdAt.toISOString(),
      });

      await api
        .req()
        .get(url(t.org.slug, '/verify'))
        .set(t.member.auth)
        .expect(200)
        .expect((r) => expect(r.body.valid).toBe(true));
      const exp = await text(api.req().get(url(t.org.slug, '/export')).set(t.member.auth)).expect(200);
      const check = verifyExport(exp.body as string, '0'.repeat(64));
      expect(check.ok).toBe(true);
      expect(check.lines.filter((l) => (l.payload as { kind?: string } | undefined)?.kind === 'admin').map((l) => l.id)).toEqual(
        activity.map((a) => a.id),
      );
    });
  });

  describe('admin actions in the chain, at volume and on the timer', () => {
    it('mirrors more rows than one pass takes, in (createdAt, id) order, each once', async () => {
      const fresh = await team(api, 'audit-volume');
      const old = Date.now() - 3_600_000;
      await api.prisma.db.activityLog.createMany({
        data: Array.from({ length: 1234 }, (_, i) => ({
          orgId: fresh.org.id,
          actorId: fresh.owner.id,
          action: 'key.updated',
          targetType: 'key',
          targetId: randomUUID(),
          after: { n: i },
          createdAt: new Date(old + Math.floor(i / 3)), // several rows share a millisecond
        })),
      });
      const expected = await api.prisma.db.activityLog.findMany({
        where: { orgId: fresh.org.id },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
      await expect(worker.get(ActivityMirror).mirror(fresh.org.id)).resolves.toBe(expected.length - 1); // org.created is not settled yet
      const chain = await api.prisma.db.auditEvent.findMany({
        where: { orgId: fresh.org.id },
        orderBy: { seq: 'asc' },
        select: { id: true },
      });
      expect(chain.map((r) => r.id)).toEqual(expected.filter((a) => a.action === 'key.updated').map((a) => a.id));
      await expect(worker.get(AuditVerifier).verify(fresh.org.id)).resolves.toMatchObject({ valid: true, checked: 1234 });
    });

    it('mirrors on its timer', async () => {
      const timed = await startAuditWorker({
        QUEUE_PREFIX: `${producer.prefix}-timer`,
        AUDIT_ACTIVITY_INTERVAL_MS: '50',
        AUDIT_ACTIVITY_SETTLE_MS: '0',
      });
      try {
        const fresh = await team(api, 'audit-timer');
        await waitFor(
          async () => (await api.prisma.db.auditEvent.count({ where: { orgId: fresh.org.id, method: 'admin.org.created' } })) === 1,
          10_000,
          'org.created in the chain',
        );
      } finally {
        await timed.close();
      }
    });
  });

  describe('tamper detection', () => {
    /** A fresh org with a 30-event chain, for tampering. */
    async function chain(n = 30) {
      const orgId = randomUUID();
      await produce(
        orgId,
        Array.from({ length: n }, () => auditEvent({ orgId })),
        n,
      );
      return orgId;
    }
    /** Runs SQL past the append-only trigger, as a superuser attacker would. */
    async function tamper(sql: string) {
      await api.prisma.db.$transaction([
        api.prisma.db.$executeRawUnsafe('ALTER TABLE "AuditEvent" DISABLE TRIGGER audit_event_append_only'),
        api.prisma.db.$executeRawUnsafe(sql),
        api.prisma.db.$executeRawUnsafe('ALTER TABLE "AuditEvent" ENABLE TRIGGER audit_event_append_only'),
      ]);
    }
    const verify = (orgId: string) => worker.get(AuditVerifier).verify(orgId);

    it('reports the first altered payload', async () => {
      const orgId = await chain();
      await tamper(`UPDATE "AuditEvent" SET payload = jsonb_set(payload, '{decision}', '"deny"') WHERE "orgId" = '${orgId}' AND seq = 17`);
      await tamper(`UPDATE "AuditEvent" SET payload = jsonb_set(payload, '{target}', '"x"') WHERE "orgId" = '${orgId}' AND seq = 23`);
      await expect(verify(orgId)).resolves.toMatchObject({
        valid: false,
        firstBrokenSeq: 17,
        checked: 16,
        reason: expect.stringMatching(/altered/),
      });
    });

    it('reports a consistently rewritten event (payload, hash and columns) by the broken link after it', async () => {
      const orgId = await chain();
      const row = await api.prisma.db.auditEvent.findFirstOrThrow({ where: { orgId, seq: 9 } });
      const payload = { ...(row.payload as Record<string, unknown>), target: 'innocent_tool' };
      const hash = createHash('sha256')
        .update(`${row.prevHash}${jcs(payload)}`)
        .digest('hex');
      await tamper(
        `UPDATE "AuditEvent" SET payload = '${JSON.stringify(payload)}'::jsonb, hash = '${hash}', target = 'innocent_tool' WHERE id = '${row.id}'`,
      );
      await expect(verify(orgId)).resolves.toMatchObject({ valid: false, firstBrokenSeq: 10, reason: expect.stringMatching(/prevHash/) });
    });

    it('reports a column edited behind the payload', async () => {
      const orgId = await chain();
      await tamper(`UPDATE "AuditEvent" SET decision = 'deny' WHERE "orgId" = '${orgId}' AND seq = 5`);
      await expect(verify(orgId)).resolves.toMatchObject({
        valid: false,
        firstBrokenSeq: 5,
        reason: 'column decision does not match the hashed payload',
      });
    });

    it('reports deleted events (a gap) and a truncated tail', async () => {
      const gap = await chain();
      await tamper(`DELETE FROM "AuditEvent" WHERE "orgId" = '${gap}' AND seq IN (12, 13)`);
      await expect(verify(gap)).resolves.toMatchObject({ valid: false, firstBrokenSeq: 12, reason: expect.stringMatching(/missing/) });
      const tail = await chain();
      await tamper(`DELETE FROM "AuditEvent" WHERE "orgId" = '${tail}' AND seq >= 28`);
      await expect(verify(tail)).resolves.toMatchObject({
        valid: false,
        firstBrokenSeq: 28,
        checked: 27,
        reason: expect.stringMatching(/ends before its head/),
      });
    });

    it('reports swapped events', async () => {
      const orgId = await chain();
      await tamper(`UPDATE "AuditEvent" SET seq = -seq WHERE "orgId" = '${orgId}' AND seq IN (7, 8)`);
      await tamper(`UPDATE "AuditEvent" SET seq = CASE seq WHEN -7 THEN 8 ELSE 7 END WHERE "orgId" = '${orgId}' AND seq IN (-7, -8)`);
      await expect(verify(orgId)).resolves.toMatchObject({ valid: false, firstBrokenSeq: 7, reason: expect.stringMatching(/prevHash/) });
    });

    it('answers the same through the API, and the export of a tampered chain fails independent verification', async () => {
      const rows = await api.prisma.db.auditEvent.findMany({ where: { orgId: t.org.id }, orderBy: { seq: 'asc' }, select: { seq: true } });
      const target = rows[Math.floor(rows.length / 2)]!.seq;
      await tamper(
        `UPDATE "AuditEvent" SET payload = jsonb_set(payload, '{bytesOut}', '1') WHERE "orgId" = '${t.org.id}' AND seq = ${target}`,
      );
      const res = await api.req().get(url(t.org.slug, '/verify')).set(t.owner.auth).expect(200);
      expect(res.body).toMatchObject({ valid: false, firstBrokenSeq: Number(target), checked: Number(target) - 1 });
      const exp = await text(api.req().get(url(t.org.slug, '/export')).set(t.owner.auth)).expect(200);
      expect(verifyExport(exp.body as string, '0'.repeat(64))).toMatchObject({ ok: false, error: `hash mismatch at ${target}` });
    });
  });
});
