import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEvent, UsageEvent } from '@toolgate/contracts';
import { verifyAuditFile } from '../audit/verify';
import { AuditFile } from './audit-file';
import { FileEventSink } from './sink';
import { UsageFile } from './usage-file';

const at = '2026-03-01T10:15:00.000Z';
const audit = (i: number): AuditEvent => ({
  schemaVersion: 1,
  id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
  orgId: 'local',
  keyId: 'key:a',
  serverId: 'server:s',
  serverSlug: 's',
  method: 'tools/call',
  target: 't',
  decision: i % 2 ? 'allow' : 'deny',
  rule: null,
  outcome: i % 2 ? 'ok' : 'denied',
  error: null,
  latencyMs: 2,
  bytesIn: 3,
  bytesOut: 4,
  clientName: null,
  clientVersion: null,
  sessionId: null,
  ip: null,
  at,
});
const usage = (e: AuditEvent): UsageEvent => ({
  schemaVersion: 1,
  id: e.id,
  orgId: e.orgId,
  keyId: e.keyId,
  serverId: e.serverId,
  target: e.target,
  method: e.method,
  decision: e.decision,
  outcome: e.outcome,
  durationMs: 2,
  bytesIn: 3,
  bytesOut: 4,
  at,
});

describe('FileEventSink', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tg-sink-'));

  it('writes the events of one turn as one group, durable before the answer, and rolls usage up per hour', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const usageFile = new UsageFile(path.join(dir, 'usage.json'));
    const sink = new FileEventSink(new AuditFile(file, 'local', 'local'), usageFile, () => undefined);
    for (let i = 1; i <= 3; i++) sink.emit(audit(i), usage(audit(i)));
    await sink.durable();
    expect(verifyAuditFile(file)).toMatchObject({ valid: true, checked: 3 });
    await sink.close();
    const rows = (JSON.parse(readFileSync(path.join(dir, 'usage.json'), 'utf8')) as { rows: unknown[] }).rows;
    expect(rows).toEqual([expect.objectContaining({ hour: '2026-03-01T10:00:00Z', calls: 3, denied: 1, errors: 0, bytesIn: 9 })]);
  });

  it('fails the calls whose events the disk refused, stops accepting, and tries again a second later', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    try {
      const auditFile = new AuditFile(path.join(dir, 'refused.jsonl'), 'local', 'local');
      const errors: string[] = [];
      const sink = new FileEventSink(auditFile, new UsageFile(path.join(dir, 'u2.json')), (e) => errors.push(e.message));
      auditFile.close(); // every write now fails (EBADF), as a refusing disk would
      sink.emit(audit(1), usage(audit(1)));
      await expect(sink.durable()).rejects.toThrow();
      expect(errors).toHaveLength(1);
      expect(sink.accepting).toBe(false);
      jest.advanceTimersByTime(1000);
      expect(sink.accepting).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });

  it.each(['disk', 'os'] as const)(
    'keeps one chain while calls of later turns finish during a write (%s flush): every call durable, in order',
    async (flush) => {
      const file = path.join(dir, `overlap-${flush}.jsonl`);
      const sink = new FileEventSink(
        new AuditFile(file, 'local', 'local', flush),
        new UsageFile(path.join(dir, `uo-${flush}.json`)),
        () => undefined,
      );
      const waits: Promise<void>[] = [];
      for (let i = 1; i <= 60; i++) {
        sink.emit(audit(i), usage(audit(i)));
        waits.push(sink.durable());
        if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(waits);
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => JSON.parse(l) as { seq: number; id: string });
      expect(lines.map((l) => l.id)).toEqual(Array.from({ length: 60 }, (_, i) => audit(i + 1).id));
      expect(verifyAuditFile(file)).toMatchObject({ valid: true, checked: 60 });
      await sink.close();
    },
  );

  it('on close writes the events still pending, and a restart continues the chain', async () => {
    const file = path.join(dir, 'close.jsonl');
    const first = new FileEventSink(new AuditFile(file, 'local', 'local'), new UsageFile(path.join(dir, 'uc.json')), () => undefined);
    for (let i = 1; i <= 4; i++) first.emit(audit(i), usage(audit(i)));
    await first.close();
    expect(verifyAuditFile(file)).toMatchObject({ valid: true, checked: 4 });
    const second = new FileEventSink(new AuditFile(file, 'local', 'local'), new UsageFile(path.join(dir, 'uc.json')), () => undefined);
    second.emit(audit(5), usage(audit(5)));
    await second.durable();
    await second.close();
    expect(verifyAuditFile(file)).toMatchObject({ valid: true, checked: 5 });
  });

  it('after a refused write the next group continues the chain from the last written line', async () => {
    const file = path.join(dir, 'recover.jsonl');
    const auditFile = new AuditFile(file, 'local', 'local');
    const sink = new FileEventSink(auditFile, new UsageFile(path.join(dir, 'ur.json')), () => undefined);
    sink.emit(audit(1), usage(audit(1)));
    await sink.durable();
    const append = auditFile.append.bind(auditFile);
    auditFile.append = () => Promise.reject(new Error('EIO: the disk refused'));
    sink.emit(audit(2), usage(audit(2)));
    await expect(sink.durable()).rejects.toThrow(/EIO/);
    auditFile.append = append;
    sink.emit(audit(3), usage(audit(3)));
    await sink.durable();
    await sink.close();
    expect(verifyAuditFile(file)).toMatchObject({ valid: true, checked: 2 });
  });
});
