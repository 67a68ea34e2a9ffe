import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import request from 'supertest';
import { type Api, startApi } from '../../../test/harness';
import { team, type Team } from '../members/members.fixtures';
import { checkpointKey, checkpointSignatureValid, signCheckpoint } from './audit.canonical';
import { AuditRetention } from './audit.retention';
import { AuditProducer, auditEvent, queuePrefix, startAuditWorker, verifyExport, waitFor } from './audit.test-fixtures';
import { AuditVerifier } from './audit.verify';

jest.setTimeout(120_000);

const text = (r: request.Test) =>
  r.buffer(true).parse((res, cb) => {
    let data = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      data += c;
    });
    res.on('end', () => cb(null, data));
  });

describe('audit retention', () => {
  let api: Api;
  let worker: INestApplicationContext;
  let producer: AuditProducer;
  let prefix: string;
  let t: Team;

  const count = (orgId: string) => api.prisma.db.auditEvent.count({ where: { orgId } });
  async function produce(orgId: string, n: number): Promise<Date> {
    const before = await count(orgId);
    await producer.add(Array.from({ length: n }, () => auditEvent({ orgId })));
    await waitFor(async () => (await count(orgId)) === before + n, 60_000, `${before + n} events`);
    await new Promise((r) => setTimeout(r, 15));
    // A cutoff after everything received so far and before whatever comes next.
    const cutoff = new Date();
    await new Promise((r) => setTimeout(r, 15));
    return cutoff;
  }

  beforeAll(async () => {
    api = await startApi();
    prefix = queuePrefix();
    producer = new AuditProducer(prefix);
    worker = await startAuditWorker({ QUEUE_PREFIX: prefix, AUDIT_BATCH_WAIT_MS: '10' });
    t = await team(api, 'retention');
  });
  afterAll(async () => {
    await worker.close();
    await producer.close();
    await api.close();
  });

  it('keeps everything when AUDIT_RETENTION_DAYS is unset', async () => {
    const orgId = randomUUID();
    await produce(orgId, 5);
    await expect(worker.get(AuditRetention).applyRetention(new Date(Date.now() + 365 * 86_400_000))).resolves.toEqual({
      pruned: 0,
      checkpoints: 0,
    });
    expect(await count(orgId)).toBe(5);
  });

  it('prunes the start of the chain behind a signed checkpoint; the rest still verifies and exports', async () => {
    const orgId = t.org.id;
    const cut1 = await produce(orgId, 1200);
    const cut2 = await produce(orgId, 1300);
    await produce(orgId, 1000);
    const retention = worker.get(AuditRetention);
    const verifier = worker.get(AuditVerifier);

    await expect(retention.pruneBefore(cut1, orgId)).resolves.toEqual({ pruned: 1200, checkpoints: 1 });
    const cp1 = await api.prisma.db.auditCheckpoint.findFirstOrThrow({ where: { orgId } });
    const next = await api.prisma.db.auditEvent.findFirstOrThrow({ where: { orgId }, orderBy: { seq: 'asc' } });
    expect({ seq: cp1.seq, pruned: cp1.pruned, next: next.seq, link: next.prevHash }).toEqual({
      seq: 1200n,
      pruned: 1200,
      next: 1201n,
      link: cp1.hash,
    });
    const key = checkpointKey(api.env.TOOLGATE_SECRET_KEY, api.env.AUDIT_SIGNING_KEY);
    expect(cp1.signature).toBe(signCheckpoint(key, orgId, 1200n, cp1.hash));
    await expect(verifier.verify(orgId)).resolves.toMatchObject({
      valid: true,
      fromSeq: 1201,
      checked: 2300,
      headSeq: 3500,
      checkpoint: { seq: 1200, hash: cp1.hash, pruned: 1200, signatureValid: true },
    });

    // Again, later: verification starts from the newest checkpoint.
    await expect(retention.pruneBefore(cut2, orgId)).resolves.toEqual({ pruned: 1300, checkpoints: 1 });
    await expect(verifier.verify(orgId)).resolves.toMatchObject({ valid: true, fromSeq: 2501, checked: 1000, checkpoint: { seq: 2500 } });
    // Nothing older than the cutoff is left, and a second run finds nothing to do.
    await expect(retention.pruneBefore(cut2, orgId)).resolves.toEqual({ pruned: 0, checkpoints: 0 });
    expect(await count(orgId)).toBe(1000);

    // The export (1000 events: one keyset batch and the edge of the next) names the checkpoint
    // and verifies from its hash.
    const res = await text(api.req().get(`/v1/orgs/${t.org.slug}/audit/export`).set(t.member.auth)).expect(200);
    const cp2 = await api.prisma.db.auditCheckpoint.findFirstOrThrow({ where: { orgId, seq: 2500n } });
    const check = verifyExport(res.body as string, cp2.hash);
    expect(check).toMatchObject({ ok: true, events: 1000 });
    expect(check.lines[0]).toMatchObject({ checkpoint: { seq: 2500, hash: cp2.hash, pruned: 1300 } });
    expect(check.lines.at(-1)).toMatchObject({ firstSeq: 2501, lastSeq: 3500 });

    // The API's verify agrees.
    const v = await api.req().get(`/v1/orgs/${t.org.slug}/audit/verify`).set(t.owner.auth).expect(200);
    expect(v.body).toMatchObject({ valid: true, fromSeq: 2501, checked: 1000, checkpoint: { seq: 2500, signatureValid: true } });
  });

  it('prunes a whole chain; later events link to the checkpoint', async () => {
    const orgId = randomUUID();
    const cut = await produce(orgId, 10);
    await expect(worker.get(AuditRetention).pruneBefore(cut, orgId)).resolves.toEqual({ pruned: 10, checkpoints: 1 });
    await expect(worker.get(AuditVerifier).verify(orgId)).resolves.toMatchObject({ valid: true, checked: 0, fromSeq: 11, headSeq: 10 });
    await produce(orgId, 3);
    await expect(worker.get(AuditVerifier).verify(orgId)).resolves.toMatchObject({ valid: true, checked: 3, fromSeq: 11, headSeq: 13 });
  });

  it('verifies one consistent snapshot: a prune committing mid-walk raises no false alarm', async () => {
    const orgId = randomUUID();
    await produce(orgId, 50);
    const verifier = worker.get(AuditVerifier);
    const key = checkpointKey(api.env.TOOLGATE_SECRET_KEY, api.env.AUDIT_SIGNING_KEY);
    const db = api.prisma.db;
    const waiting = async (granted: boolean) => {
      const [row] = await db.$queryRaw<Array<{ n: number }>>`
        SELECT count(*)::int AS n FROM pg_locks WHERE relation = '"AuditEvent"'::regclass AND granted = ${granted} AND mode = ${granted ? 'AccessExclusiveLock' : 'AccessShareLock'}`;
      return (row?.n ?? 0) > 0;
    };
    // A prune that holds the table while the verifier has read the head and the checkpoints but
    // not the events yet, and commits then.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const pruning = db.$transaction(
      async (tx) => {
        await tx.$executeRawUnsafe('LOCK TABLE "AuditEvent" IN ACCESS EXCLUSIVE MODE');
        await gate;
        const last = await tx.auditEvent.findFirstOrThrow({ where: { orgId, seq: 20n } });
        await tx.$executeRaw`SET LOCAL toolgate.audit_prune = 'on'`;
        await tx.$executeRaw`DELETE FROM "AuditEvent" WHERE "orgId" = ${orgId}::uuid AND seq <= 20`;
        await tx.auditCheckpoint.create({
          data: { orgId, seq: 20n, hash: last.hash, pruned: 20, signature: signCheckpoint(key, orgId, 20n, last.hash) },
        });
      },
      { timeout: 30_000 },
    );
    await waitFor(() => waiting(true), 10_000, 'the table lock');
    const verifying = verifier.verify(orgId);
    await waitFor(() => waiting(false), 10_000, 'the verifier to wait for the events');
    release();
    await pruning;
    // The walk saw the chain as it was when it started: whole, from genesis.
    await expect(verifying).resolves.toMatchObject({ valid: true, fromSeq: 1, checked: 50, checkpoint: null });
    await expect(verifier.verify(orgId)).resolves.toMatchObject({ valid: true, fromSeq: 21, checked: 30, checkpoint: { seq: 20 } });
  });

  it('detects a forged or altered checkpoint', async () => {
    const verifier = worker.get(AuditVerifier);
    // Altered: the hash changed, the signature no longer matches.
    const a = randomUUID();
    await expect(worker.get(AuditRetention).pruneBefore(await produce(a, 6), a)).resolves.toMatchObject({ pruned: 6 });
    await produce(a, 2);
    await api.prisma.db.auditCheckpoint.updateMany({ where: { orgId: a }, data: { hash: 'f'.repeat(64) } });
    await expect(verifier.verify(a)).resolves.toMatchObject({
      valid: false,
      firstBrokenSeq: 7,
      reason: expect.stringMatching(/checkpoint signature/),
    });

    // Forged: someone deletes events (trigger disabled) and writes a checkpoint to cover it,
    // without the signing key.
    const b = randomUUID();
    await produce(b, 8);
    const fifth = await api.prisma.db.auditEvent.findFirstOrThrow({ where: { orgId: b, seq: 5n } });
    await api.prisma.db.$transaction([
      api.prisma.db.$executeRawUnsafe('ALTER TABLE "AuditEvent" DISABLE TRIGGER audit_event_append_only'),
      api.prisma.db.$executeRawUnsafe(`DELETE FROM "AuditEvent" WHERE "orgId" = '${b}' AND seq <= 5`),
      api.prisma.db.$executeRawUnsafe('ALTER TABLE "AuditEvent" ENABLE TRIGGER audit_event_append_only'),
    ]);
    const wrongKey = checkpointKey(Buffer.alloc(32, 7));
    await api.prisma.db.auditCheckpoint.create({
      data: { orgId: b, seq: 5n, hash: fifth.hash, pruned: 5, signature: signCheckpoint(wrongKey, b, 5n, fifth.hash) },
    });
    const res = await verifier.verify(b);
    expect(res).toMatchObject({ valid: false, firstBrokenSeq: 6, checkpoint: { seq: 5, signatureValid: false } });
    expect(checkpointSignatureValid(wrongKey, b, 5n, fifth.hash, signCheckpoint(wrongKey, b, 5n, fifth.hash))).toBe(true);

    // Deleting without a checkpoint at all is a gap at seq 1.
    const c = randomUUID();
    await produce(c, 4);
    await api.prisma.db.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL toolgate.audit_prune = 'on'`;
      await tx.$executeRaw`DELETE FROM "AuditEvent" WHERE "orgId" = ${c}::uuid AND seq = 1`;
    });
    await expect(verifier.verify(c)).resolves.toMatchObject({ valid: false, firstBrokenSeq: 1, reason: expect.stringMatching(/missing/) });
  });

  it('prunes on its timer by AUDIT_RETENTION_DAYS', async () => {
    const timed = await startAuditWorker({
      QUEUE_PREFIX: `${prefix}-timer`,
      AUDIT_RETENTION_DAYS: '7',
      AUDIT_RETENTION_INTERVAL_MS: '200',
    });
    try {
      const orgId = randomUUID();
      await produce(orgId, 20);
      // Age the first 12 events by ten days (past the trigger, as only a test may).
      await api.prisma.db.$transaction([
        api.prisma.db.$executeRawUnsafe('ALTER TABLE "AuditEvent" DISABLE TRIGGER audit_event_append_only'),
        api.prisma.db.$executeRawUnsafe(
          `UPDATE "AuditEvent" SET "receivedAt" = "receivedAt" - interval '10 days' WHERE "orgId" = '${orgId}' AND seq <= 12`,
        ),
        api.prisma.db.$executeRawUnsafe('ALTER TABLE "AuditEvent" ENABLE TRIGGER audit_event_append_only'),
      ]);
      await waitFor(async () => (await count(orgId)) === 8, 10_000, 'the timer to prune');
      await expect(timed.get(AuditVerifier).verify(orgId)).resolves.toMatchObject({
        valid: true,
        fromSeq: 13,
        checked: 8,
        checkpoint: { seq: 12 },
      });
    } finally {
      await timed.close();
    }
  });

  it('aborts an export whose database connection fails mid-stream (no trailer), and keeps serving', async () => {
    await produce(t.org.id, 5);
    const server = api.http as http.Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const db = api.prisma.db;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // Hold the table so the export blocks on its first batch, then kill that backend.
    const holding = db.$transaction(
      async (tx) => {
        await tx.$executeRawUnsafe('LOCK TABLE "AuditEvent" IN ACCESS EXCLUSIVE MODE');
        await gate;
      },
      { timeout: 30_000 },
    );
    try {
      const { port } = server.address() as AddressInfo;
      const body = new Promise<{ text: string; complete: boolean }>((resolve) => {
        http
          .get(
            {
              host: '127.0.0.1',
              port,
              path: `/v1/orgs/${t.org.slug}/audit/export`,
              headers: { authorization: t.owner.auth.Authorization },
            },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => {
                text += c;
              });
              res.on('end', () => resolve({ text, complete: res.complete }));
              res.on('error', () => resolve({ text, complete: false }));
            },
          )
          .on('error', () => resolve({ text: '', complete: false }));
      });
      let pid = 0;
      await waitFor(
        async () => {
          const [row] = await db.$queryRaw<Array<{ pid: number }>>`
            SELECT pid FROM pg_locks WHERE relation = '"AuditEvent"'::regclass AND NOT granted LIMIT 1`;
          pid = row?.pid ?? 0;
          return pid > 0;
        },
        10_000,
        'the export to wait for its first batch',
      );
      await db.$queryRaw`SELECT pg_terminate_backend(${pid}::int)`;
      const got = await body;
      expect(got.complete).toBe(false);
      expect(got.text.startsWith('{"type":"header"')).toBe(true);
      expect(got.text).not.toContain('"type":"end"');
    } finally {
      release();
      await holding;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const again = await text(request(api.http).get(`/v1/orgs/${t.org.slug}/audit/export`).set(t.owner.auth)).expect(200);
    expect(verifyExport(again.body as string).ok).toBe(true);
  });

  it('stops reading when an export client goes away, and keeps serving', async () => {
    await produce(t.org.id, 1000);
    const server = api.http as http.Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const got = await new Promise<number>((resolve, reject) => {
        const req = http.get(
          { host: '127.0.0.1', port, path: `/v1/orgs/${t.org.slug}/audit/export`, headers: { authorization: t.owner.auth.Authorization } },
          (res) => {
            res.once('data', (chunk: Buffer) => {
              req.destroy();
              resolve(chunk.length);
            });
          },
        );
        req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
      });
      expect(got).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 200));
      const res = await text(request(server).get(`/v1/orgs/${t.org.slug}/audit/export`).set(t.owner.auth)).expect(200);
      expect(verifyExport(res.body as string).ok).toBe(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
