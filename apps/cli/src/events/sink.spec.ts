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
    sink.close();
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
});
