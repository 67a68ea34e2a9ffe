import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEvent, EVENT_SCHEMA_VERSION, QueueName, type UsageEvent } from '@toolgate/contracts';
import { uuidv7 } from 'uuidv7';
import { parseSpool, Spool, spoolLine } from './spool';

function events(orgId = 'org_1'): { audit: AuditEvent; usage: UsageEvent } {
  const at = new Date().toISOString();
  const audit: AuditEvent = {
    schemaVersion: EVENT_SCHEMA_VERSION,
    id: uuidv7(),
    orgId,
    keyId: 'key_1',
    serverId: 'srv_1',
    serverSlug: 'github',
    method: 'tools/call',
    target: 'create_issue',
    arguments: { title: 'hi' },
    decision: 'allow',
    rule: 'role:dev/tools[0]',
    outcome: 'ok',
    error: null,
    latencyMs: 12.5,
    bytesIn: 100,
    bytesOut: 200,
    clientName: 'claude',
    clientVersion: '1.0',
    sessionId: 's1',
    ip: '127.0.0.1',
    at,
  };
  const usage: UsageEvent = {
    schemaVersion: EVENT_SCHEMA_VERSION,
    id: uuidv7(),
    orgId,
    keyId: 'key_1',
    serverId: 'srv_1',
    target: 'create_issue',
    method: 'tools/call',
    decision: 'allow',
    outcome: 'ok',
    durationMs: 12.5,
    bytesIn: 100,
    bytesOut: 200,
    at,
  };
  return { audit, usage };
}

const ndjson = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.ndjson'))
    .sort();

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

describe('parseSpool', () => {
  it('returns valid events per queue and counts every bad line instead of throwing', () => {
    const a = events();
    const b = events();
    const text = [
      spoolLine(QueueName.Audit, a.audit),
      spoolLine(QueueName.Usage, a.usage),
      '\n',
      'not json\n',
      '{"q":"tg-audit","e":{"id":"x"}}\n', // fails the schema
      `{"q":"tg-nope","e":${JSON.stringify(a.audit)}}\n`, // unknown queue
      'null\n',
      spoolLine(QueueName.Usage, b.usage),
      spoolLine(QueueName.Audit, b.audit).slice(0, 40), // cut short by a crash
    ].join('');
    const out = parseSpool(text);
    expect(out.audit).toEqual([a.audit]);
    expect(out.usage).toEqual([a.usage, b.usage]);
    expect(out.corrupt).toBe(5);
  });
});

describe('Spool', () => {
  let dir: string;
  const spools: Spool[] = [];
  const make = (opts: Partial<ConstructorParameters<typeof Spool>[0]> = {}) => {
    const spool = new Spool({ dir, ...opts });
    spools.push(spool);
    return spool;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tg-spool-'));
  });
  afterEach(async () => {
    await Promise.all(spools.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes NDJSON in batches, rotates by size, and hands out files oldest first', async () => {
    const spool = make({ maxFileBytes: 4096 });
    await spool.open();
    expect(readdirSync(dir)).toEqual([`${spool.instance}.lock`]);
    const written: string[] = [];
    for (let round = 0; round < 10; round++) {
      // Everything appended meanwhile goes out in one write (+ one fdatasync).
      for (let i = 0; i < 3; i++) {
        const { audit } = events();
        written.push(audit.id);
        spool.append(spoolLine(QueueName.Audit, audit), 1);
      }
      if (round === 0) expect(spool.events).toBe(3);
      await spool.flush();
    }
    expect(spool.events).toBe(30);
    const files = ndjson(dir);
    expect(files.length).toBeGreaterThan(3); // ~700 bytes a line, 4 KiB a file
    for (const f of files) expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(4096);
    expect(spool.bytes).toBe(files.reduce((n, f) => n + readFileSync(join(dir, f)).length, 0));
    const seen: string[] = [];
    for (let f = await spool.oldest(); f !== null; f = await spool.oldest()) {
      const contents = await spool.read(f);
      expect(contents.corrupt).toBe(0);
      expect(contents.audit).toHaveLength(f.events);
      seen.push(...contents.audit.map((e) => e.id));
      await spool.remove(f);
    }
    expect(seen).toEqual(written);
    expect(spool.isEmpty).toBe(true);
    expect(spool.events).toBe(0);
    expect(ndjson(dir)).toEqual([]);
  });

  it('keeps data that arrives while a file is sealed for replay in a new file', async () => {
    const spool = make();
    await spool.open();
    const first = events().audit;
    spool.append(spoolLine(QueueName.Audit, first), 1);
    const file = (await spool.oldest())!; // seals the only file, with what was appended so far
    const second = events().audit;
    spool.append(spoolLine(QueueName.Audit, second), 1);
    expect((await spool.read(file)).audit.map((e) => e.id)).toEqual([first.id]);
    await spool.flush();
    expect((await spool.read(file)).audit.map((e) => e.id)).toEqual([first.id]);
    expect(ndjson(dir)).toHaveLength(2);
    await spool.remove(file);
    const next = (await spool.oldest())!;
    expect((await spool.read(next)).audit.map((e) => e.id)).toEqual([second.id]);
  });

  it('claims files of owners that are gone, never those of a live sibling, and deletes dead locks', async () => {
    const write = (instance: string, seq: number, ids: string[]) => {
      const lines = ids.map((id) => spoolLine(QueueName.Usage, { ...events().usage, id })).join('');
      writeFileSync(join(dir, `${instance}.${String(seq).padStart(8, '0')}.ndjson`), lines);
    };
    const crashed = `0000000000001-${deadPid()}-aaaa`; // lock left behind by a killed process
    const exited = '0000000000002-12345-bbbb'; // no lock: closed cleanly but could not deliver
    const sibling = `0000000000003-${process.ppid}-cccc`; // still running
    const ids = Array.from({ length: 5 }, () => uuidv7());
    writeFileSync(join(dir, `${crashed}.lock`), '');
    writeFileSync(join(dir, `${sibling}.lock`), '');
    write(crashed, 0, [ids[0]!]);
    write(crashed, 1, [ids[1]!]);
    write(exited, 0, [ids[2]!, ids[3]!]);
    write(sibling, 0, [ids[4]!]);
    writeFileSync(join(dir, 'unrelated.txt'), 'x');

    const spool = make();
    await spool.open();
    expect(spool.events).toBe(4);
    const seen: string[] = [];
    for (let f = await spool.oldest(); f !== null; f = await spool.oldest()) {
      seen.push(...(await spool.read(f)).usage.map((e) => e.id));
      await spool.remove(f);
    }
    expect(seen).toEqual(ids.slice(0, 4)); // oldest owner first, then by sequence
    expect(readdirSync(dir).sort()).toEqual(
      [`${spool.instance}.lock`, `${sibling}.00000000.ndjson`, `${sibling}.lock`, 'unrelated.txt'].sort(),
    );
  });

  it('never claims the files of another spool open in the same process', async () => {
    const a = make();
    await a.open();
    a.append(spoolLine(QueueName.Audit, events().audit), 1);
    await a.flush();
    const b = make();
    await b.open();
    expect(b.events).toBe(0);
    expect(a.events).toBe(1);
    expect(await b.oldest()).toBeNull();
  });

  it('lets exactly one of two starting processes claim each leftover file', async () => {
    const ids = Array.from({ length: 40 }, () => uuidv7());
    const gone = deadPid();
    ids.forEach((id, i) => {
      writeFileSync(
        join(dir, `0000000000001-${gone}-dddd.${String(i).padStart(8, '0')}.ndjson`),
        spoolLine(QueueName.Usage, { ...events().usage, id }),
      );
    });
    const a = make();
    const b = make();
    await Promise.all([a.open(), b.open()]);
    expect(a.events + b.events).toBe(40);
    const seen: string[] = [];
    for (const spool of [a, b]) {
      for (let f = await spool.oldest(); f !== null; f = await spool.oldest()) {
        seen.push(...(await spool.read(f)).usage.map((e) => e.id));
        await spool.remove(f);
      }
    }
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('keeps events in memory while the disk refuses them, retries, and drops beyond its limit', async () => {
    const errors: Error[] = [];
    const spool = make({ maxPendingEvents: 3, onError: (e) => errors.push(e) });
    await spool.open();
    rmSync(dir, { recursive: true, force: true }); // every write now fails
    const batch = Array.from({ length: 5 }, () => events().audit);
    for (const e of batch) spool.append(spoolLine(QueueName.Audit, e), 1);
    await spool.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(spool.events).toBe(3); // the two oldest were dropped
    expect(spool.droppedEvents).toBe(2);
    mkdirSync(dir);
    // The writer retries on its own a second after a failure.
    const until = Date.now() + 5000;
    while (ndjson(dir).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const file = (await spool.oldest())!;
    expect((await spool.read(file)).audit.map((e) => e.id)).toEqual(batch.slice(2).map((e) => e.id));
  });

  it('releases its lock on close, and what arrives afterwards lands in a file the next owner claims', async () => {
    const spool = make();
    await spool.open();
    const before = events().audit;
    spool.append(spoolLine(QueueName.Audit, before), 1);
    await spool.close();
    expect(readdirSync(dir).some((n) => n.endsWith('.lock'))).toBe(false);
    const late = events().usage;
    spool.append(spoolLine(QueueName.Usage, late), 1); // synchronous after close
    const later = events().usage;
    spool.append(spoolLine(QueueName.Usage, later), 1); // same file
    expect(ndjson(dir)).toHaveLength(2);

    const next = make();
    await next.open();
    expect(next.events).toBe(3);
    const audit: string[] = [];
    const usage: string[] = [];
    for (let f = await next.oldest(); f !== null; f = await next.oldest()) {
      const c = await next.read(f);
      audit.push(...c.audit.map((e) => e.id));
      usage.push(...c.usage.map((e) => e.id));
      await next.remove(f);
    }
    expect(audit).toEqual([before.id]);
    expect(usage).toEqual([late.id, later.id]);
  });

  it('writes appends made before open() once it opens', async () => {
    const spool = make();
    const e = events().audit;
    spool.append(spoolLine(QueueName.Audit, e), 1);
    expect(spool.events).toBe(1);
    await spool.open();
    const file = (await spool.oldest())!;
    expect((await spool.read(file)).audit[0]!.id).toBe(e.id);
  });
});
