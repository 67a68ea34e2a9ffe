import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type AuditEvent, chainHash, GENESIS_HASH } from '@toolgate/contracts';
import { AuditFile } from '../events/audit-file';
import { verifyAuditFile } from './verify';

const dir = mkdtempSync(path.join(tmpdir(), 'tg-audit-'));
let n = 0;

function event(i: number): AuditEvent {
  return {
    schemaVersion: 1,
    id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
    orgId: 'local',
    keyId: 'key:laptop',
    serverId: 'server:files',
    serverSlug: 'files',
    method: 'tools/call',
    target: 'read',
    arguments: { path: `/tmp/${i}`, unicode: 'é\u0000' },
    decision: 'allow',
    rule: 'role:dev/tools[0]',
    outcome: 'ok',
    error: null,
    latencyMs: 1.5,
    bytesIn: 10,
    bytesOut: 20,
    clientName: 'test',
    clientVersion: '1',
    sessionId: 's',
    ip: '127.0.0.1',
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  };
}

/** A local audit file with `count` events, written by the gateway's own writer (in two appends: a restart in between). */
function localFile(count: number): string {
  const file = path.join(dir, `a${++n}.jsonl`);
  const first = new AuditFile(file, 'local', 'local');
  first.appendSync(Array.from({ length: Math.min(2, count) }, (_, i) => event(i + 1)));
  first.close();
  const second = new AuditFile(file, 'local', 'local');
  second.appendSync(Array.from({ length: Math.max(0, count - 2) }, (_, i) => event(i + 3)));
  second.close();
  return file;
}

interface Line {
  prevHash: string;
  hash: string;
  payload: Record<string, unknown>;
}

function editLine(file: string, lineNo: number, edit: (rec: Line) => void): void {
  const lines = readFileSync(file, 'utf8').split('\n');
  const rec = JSON.parse(lines[lineNo - 1]!) as Line;
  edit(rec);
  lines[lineNo - 1] = JSON.stringify(rec);
  writeFileSync(file, lines.join('\n'));
}

describe('audit verify', () => {
  it('accepts the gateway’s own file, continued across a restart', () => {
    const r = verifyAuditFile(localFile(5));
    expect(r).toMatchObject({ valid: true, checked: 5, headSeq: 5, line: null });
  });

  it('finds an altered payload by its line and seq', () => {
    const file = localFile(5);
    editLine(file, 4, (rec) => {
      rec.payload.decision = 'deny';
    });
    expect(verifyAuditFile(file)).toMatchObject({ valid: false, line: 4, seq: 3, checked: 2, reason: expect.stringMatching(/altered/) });
  });

  it('finds a deleted event and a re-hashed forgery', () => {
    const deleted = localFile(4);
    const lines = readFileSync(deleted, 'utf8').split('\n');
    lines.splice(2, 1);
    writeFileSync(deleted, lines.join('\n'));
    expect(verifyAuditFile(deleted)).toMatchObject({
      valid: false,
      line: 3,
      seq: 3,
      reason: expect.stringMatching(/missing or reordered/),
    });

    // Recomputing the altered event's own hash breaks the next link instead.
    const forged = localFile(4);
    editLine(forged, 3, (rec) => {
      rec.payload.outcome = 'error';
      rec.hash = chainHash(rec.prevHash, rec.payload);
    });
    expect(verifyAuditFile(forged)).toMatchObject({ valid: false, line: 4, seq: 3, reason: expect.stringMatching(/prevHash/) });
  });

  it('refuses a line that is not JSON', () => {
    const file = localFile(2);
    writeFileSync(file, `${readFileSync(file, 'utf8')}{oops\n`);
    expect(verifyAuditFile(file)).toMatchObject({ valid: false, line: 4, reason: 'not a JSON line' });
  });

  it('verifies a platform export, trailer included, and notices a truncated one', () => {
    let prev = GENESIS_HASH;
    const lines = [JSON.stringify({ type: 'header', format: 'toolgate-audit-export', version: 1 })];
    for (let seq = 1; seq <= 3; seq++) {
      const payload = { ...event(seq) } as Record<string, unknown>;
      payload.arguments = { path: `/tmp/${seq}` };
      const hash = chainHash(prev, payload);
      lines.push(
        JSON.stringify({ type: 'event', seq, id: payload.id, prevHash: prev, hash, receivedAt: '2026-01-01T00:00:00.000Z', payload }),
      );
      prev = hash;
    }
    const file = path.join(dir, 'export.ndjson');
    writeFileSync(file, [...lines, JSON.stringify({ type: 'end', count: 3, lastHash: prev, complete: true })].join('\n'));
    expect(verifyAuditFile(file)).toMatchObject({ valid: true, checked: 3 });
    writeFileSync(file, [...lines.slice(0, 3), JSON.stringify({ type: 'end', count: 3, lastHash: prev, complete: true })].join('\n'));
    expect(verifyAuditFile(file)).toMatchObject({ valid: false, line: 4, reason: expect.stringMatching(/trailer counts 3/) });
  });
});
