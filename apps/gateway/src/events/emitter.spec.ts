import { type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AuditEvent,
  EVENT_SCHEMA_VERSION,
  eventBatchJob,
  eventsOfJob,
  MAX_EVENTS_PER_JOB,
  QueueName,
  queueCatalog,
  type UsageEvent,
} from '@toolgate/contracts';
import { Queue } from 'bullmq';
import Redis, { type RedisOptions } from 'ioredis';
import { uuidv7 } from 'uuidv7';
import { QueueEventSink, type QueueEventSinkOptions } from './emitter';
import { spoolLine } from './spool';
import { freePort, killRedis, startRedis } from '../../test/fixtures/redis-server';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

let seq = 0;
function call(orgId = 'org_1'): { audit: AuditEvent; usage: UsageEvent } {
  const at = new Date().toISOString();
  seq++;
  return {
    audit: {
      schemaVersion: EVENT_SCHEMA_VERSION,
      id: uuidv7(),
      orgId,
      keyId: 'key_1',
      serverId: 'srv_1',
      serverSlug: 'github',
      method: 'tools/call',
      target: 'create_issue',
      arguments: { title: `issue ${seq}`, labels: ['a', 'b'] },
      decision: 'allow',
      rule: 'role:dev/tools[0]',
      outcome: 'ok',
      error: null,
      latencyMs: 12.5,
      bytesIn: 120,
      bytesOut: 340,
      clientName: 'claude-code',
      clientVersion: '2.1.0',
      sessionId: 'sess_1',
      ip: '127.0.0.1',
      at,
    },
    usage: {
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
      bytesIn: 120,
      bytesOut: 340,
      at,
    },
  };
}

const waitKey = (prefix: string, queue: QueueName) => `${prefix}:${queue}:wait`;

describe('QueueEventSink', () => {
  let admin: Redis;
  let prefix: string;
  let spoolDir: string;
  const sinks: QueueEventSink[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];

  const make = (opts: Partial<QueueEventSinkOptions> = {}) => {
    const sink = new QueueEventSink({ connection: REDIS_URL, prefix, spoolDir, flushMs: 20, batchSize: 500, retryMs: 100, ...opts });
    sinks.push(sink);
    return sink;
  };
  /** Spool files (what Redis could not take), not WAL segments (every call's record until Redis has it). */
  const spoolFiles = () => readdirSync(spoolDir).filter((n) => n.endsWith('.ndjson') && !n.endsWith('.wal.ndjson'));
  const walFiles = () => readdirSync(spoolDir).filter((n) => n.endsWith('.wal.ndjson'));
  const allFiles = () => readdirSync(spoolDir).filter((n) => n.endsWith('.ndjson'));
  /** Events written to spool files (stats().spooledEvents also counts those on their way to disk). */
  const onDisk = () => spoolFiles().reduce((n, f) => n + readFileSync(join(spoolDir, f), 'utf8').split('\n').length - 1, 0);
  /** Ids of the events in a queue's waiting jobs, in queue order (a re-sent event appears once per job carrying it). */
  const ids = async (client: Redis, queue: QueueName): Promise<string[]> => {
    const jobIds = await client.lrange(waitKey(prefix, queue), 0, -1);
    const pipeline = client.pipeline();
    for (const id of jobIds.reverse()) pipeline.hget(`${prefix}:${queue}:${id}`, 'data');
    const out: string[] = [];
    for (const [err, data] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      const job = eventsOfJob(JSON.parse(data as string));
      if (!job.ok || !job.batch) throw new Error(`not an event batch: ${data}`);
      for (const e of job.events) out.push((e as { id: string }).id);
    }
    return out;
  };

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });
  beforeEach(() => {
    prefix = `tgtest-${randomBytes(6).toString('hex')}`;
    spoolDir = mkdtempSync(join(tmpdir(), 'tg-events-'));
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await Promise.all(sinks.splice(0).map((s) => s.close(1000)));
    jest.restoreAllMocks();
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length) await admin.del(...keys);
    rmSync(spoolDir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await admin.quit();
  });

  it('delivers a flush as one batch job per queue: payload, job id from the event ids, catalog options', async () => {
    const sink = make();
    await sink.start();
    const calls = [call('org_a'), call('org_b'), call('')];
    for (const c of calls) sink.emit(c.audit, c.usage);
    await until(() => sink.stats().flushed === 6);

    const audit = new Queue(QueueName.Audit, { connection: admin, prefix });
    const usage = new Queue(QueueName.Usage, { connection: admin, prefix });
    cleanups.push(
      () => audit.close(),
      () => usage.close(),
    );
    expect(await audit.getWaitingCount()).toBe(1);
    expect(await usage.getWaitingCount()).toBe(1);
    const [a] = await audit.getWaiting();
    const [u] = await usage.getWaiting();
    expect(a!.data).toEqual({ schemaVersion: EVENT_SCHEMA_VERSION, events: calls.map((c) => c.audit) });
    expect(a!.id).toBe(eventBatchJob(calls.map((c) => c.audit)).opts.jobId);
    expect(a!.name).toBe('events');
    expect(a!.opts).toMatchObject(queueCatalog[QueueName.Audit].jobOptions);
    expect(u!.data).toEqual({ schemaVersion: EVENT_SCHEMA_VERSION, events: calls.map((c) => c.usage) });
    expect(u!.id).toBe(eventBatchJob(calls.map((c) => c.usage)).opts.jobId);
    expect(u!.opts).toMatchObject(queueCatalog[QueueName.Usage].jobOptions);
    expect(sink.stats()).toMatchObject({ buffered: 0, spooledEvents: 0, failedFlushes: 0 });
  });

  it('job ids: the same events make the same id, any other set another one', () => {
    const calls = Array.from({ length: 5 }, () => call());
    const audit = calls.map((c) => c.audit);
    const id = eventBatchJob(audit).opts.jobId;
    expect(eventBatchJob(audit.map((e) => ({ ...e }))).opts.jobId).toBe(id);
    expect(eventBatchJob(audit.slice(0, 4)).opts.jobId).not.toBe(id);
    expect(eventBatchJob([...audit.slice(1), audit[0]!]).opts.jobId).not.toBe(id);
    expect(eventBatchJob([...audit.slice(0, 4), call().audit]).opts.jobId).not.toBe(id);
    expect(id).not.toMatch(/:/); // BullMQ reserves ':' in keys
  });

  it('batches: 5,000 calls make 10 batches per queue, each sent as jobs of up to MAX_EVENTS_PER_JOB, and a lone event waits at most ~flushMs', async () => {
    const add = jest.spyOn(Queue.prototype, 'add');
    const sink = make({ flushMs: 10_000, batchSize: 500 });
    await sink.start();
    const calls = Array.from({ length: 5000 }, () => call());
    for (const c of calls) sink.emit(c.audit, c.usage);
    expect(sink.stats().buffered).toBe(0); // on their way to the WAL
    await sink.durable();
    expect(sink.stats().buffered).toBe(10_000); // on disk, waiting for the flusher
    await until(() => sink.stats().flushed === 10_000);
    // 2 queues × 10 batches of 500, each batch in ⌈500 / MAX_EVENTS_PER_JOB⌉ jobs (one per event-loop turn).
    const perBatch = Math.ceil(500 / MAX_EVENTS_PER_JOB);
    expect(add).toHaveBeenCalledTimes(20 * perBatch);
    const sizes = add.mock.calls.map(([, data]) => (data as { events: unknown[] }).events.length);
    for (const n of sizes) expect(n).toBeLessThanOrEqual(MAX_EVENTS_PER_JOB);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(await admin.llen(waitKey(prefix, QueueName.Audit))).toBe(10 * perBatch);
    expect(await ids(admin, QueueName.Audit)).toEqual(calls.map((c) => c.audit.id)); // in order, once each
    expect(await ids(admin, QueueName.Usage)).toEqual(calls.map((c) => c.usage.id));

    add.mockClear();
    const quick = make({ flushMs: 30, batchSize: 500 });
    await quick.start();
    const started = performance.now();
    for (let i = 0; i < 7; i++) {
      const c = call();
      quick.emit(c.audit, c.usage);
    }
    await until(() => quick.stats().flushed === 14);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1000); // sent by the 30 ms timer, not by a full batch
    expect(add).toHaveBeenCalledTimes(2); // one job per queue
  });

  it('lets BullMQ drop a job sent twice (same events, same job id)', async () => {
    const sink = make();
    await sink.start();
    const c = call();
    sink.emit(c.audit, c.usage);
    await until(() => sink.stats().flushed === 2);
    sink.emit(c.audit, c.usage);
    await until(() => sink.stats().flushed === 4);
    expect(await ids(admin, QueueName.Audit)).toEqual([c.audit.id]);
    expect(await ids(admin, QueueName.Usage)).toEqual([c.usage.id]);
  });

  it('spools to disk while Redis is unreachable, closes within its deadline, and the next process replays the spool', async () => {
    const port = await freePort(); // nothing listens there
    const errors: Error[] = [];
    const down = make({ connection: { host: '127.0.0.1', port }, onError: (e) => errors.push(e) });
    await down.start();
    const calls = Array.from({ length: 300 }, () => call());
    const t0 = performance.now();
    for (const c of calls.slice(0, 200)) down.emit(c.audit, c.usage);
    expect(performance.now() - t0).toBeLessThan(100); // emit never waits for Redis
    await until(() => down.stats().spooledEvents === 400 && down.stats().buffered === 0);
    await until(() => onDisk() === 400);
    expect(errors.length).toBeGreaterThan(0); // connection refused, reported
    expect(down.stats().flushed).toBe(0);
    // The last calls are still in memory when close() starts: close spools them quickly.
    for (const c of calls.slice(200)) down.emit(c.audit, c.usage);
    const closing = performance.now();
    await down.close(2000);
    expect(performance.now() - closing).toBeLessThan(1500); // no waiting for the deadline
    const lines = spoolFiles().flatMap((f) => readFileSync(join(spoolDir, f), 'utf8').trim().split('\n'));
    expect(lines).toHaveLength(600);
    expect(walFiles()).toEqual([]); // every WAL entry was retired once the spool had it
    expect(readdirSync(spoolDir).some((n) => n.endsWith('.lock'))).toBe(false);

    const next = make(); // a later process, Redis reachable
    expect(next.stats().spooledEvents).toBe(0);
    await next.start();
    await until(() => next.stats().spooledEvents === 0 && allFiles().length === 0);
    expect(next.stats()).toMatchObject({ flushed: 600, corruptSpoolLines: 0 });
    expect((await ids(admin, QueueName.Audit)).sort()).toEqual(calls.map((c) => c.audit.id).sort());
    expect((await ids(admin, QueueName.Usage)).sort()).toEqual(calls.map((c) => c.usage.id).sort());
  });

  it('replays a crashed process’s spool on start, skipping a corrupt trailing line', async () => {
    const calls = Array.from({ length: 10 }, () => call());
    const text = calls.map((c) => spoolLine(QueueName.Audit, c.audit) + spoolLine(QueueName.Usage, c.usage)).join('');
    const cut = spoolLine(QueueName.Audit, call().audit).slice(0, 57); // the write a SIGKILL interrupted
    const dead = `0000000000001-${2 ** 22 + 1}-abcdef`; // above the default pid_max: not running
    writeFileSync(join(spoolDir, `${dead}.lock`), '');
    writeFileSync(join(spoolDir, `${dead}.00000000.ndjson`), text + cut);
    const sink = make();
    await sink.start();
    await until(() => spoolFiles().length === 0);
    expect(sink.stats()).toMatchObject({ flushed: 20, corruptSpoolLines: 1, spooledEvents: 0, spoolBytes: 0 });
    expect((await ids(admin, QueueName.Audit)).sort()).toEqual(calls.map((c) => c.audit.id).sort());
    expect((await ids(admin, QueueName.Usage)).sort()).toEqual(calls.map((c) => c.usage.id).sort());
    expect(readdirSync(spoolDir).filter((n) => n.endsWith('.lock'))).toHaveLength(2); // only the live sink's: its spool's and its WAL's
  });

  it('start() happens once, and rejects when the spool directory cannot be used', async () => {
    const sink = make();
    const first = sink.start();
    expect(sink.start()).toBe(first);
    await first;
    const file = join(spoolDir, 'not-a-dir');
    writeFileSync(file, '');
    const broken = make({ spoolDir: file });
    await expect(broken.start()).rejects.toThrow(/EEXIST|ENOTDIR/);
  });

  it('close() before start() keeps the events on disk for the next process', async () => {
    const never = make();
    const calls = [call(), call()];
    for (const c of calls) never.emit(c.audit, c.usage);
    await never.close();
    await never.durable();
    expect(allFiles()).toHaveLength(1);
    const next = make();
    await next.start();
    await until(() => allFiles().length === 0 && next.stats().flushed === 4);
    expect((await ids(admin, QueueName.Audit)).sort()).toEqual(calls.map((c) => c.audit.id).sort());
  });

  it('close() sends everything still buffered before it resolves', async () => {
    const sink = make({ flushMs: 60_000, batchSize: 100_000 });
    await sink.start();
    const calls = Array.from({ length: 1000 }, () => call());
    for (const c of calls) sink.emit(c.audit, c.usage);
    await sink.durable();
    expect(sink.stats().buffered).toBe(2000);
    await sink.close();
    expect(sink.stats()).toMatchObject({ buffered: 0, flushed: 2000, spooledEvents: 0 });
    expect(await ids(admin, QueueName.Audit)).toEqual(calls.map((c) => c.audit.id));
    expect(await ids(admin, QueueName.Usage)).toEqual(calls.map((c) => c.usage.id));
    expect(readdirSync(spoolDir)).toEqual([]);

    // A call that finishes after close() is not lost: it lands (fdatasync'd) in a file the next process replays.
    const late = [call(), call()];
    for (const c of late) sink.emit(c.audit, c.usage);
    await sink.durable();
    expect(walFiles()).toHaveLength(1);
    const next = make();
    await next.start();
    await until(() => allFiles().length === 0 && next.stats().flushed === 4);
    expect(await ids(admin, QueueName.Audit)).toEqual([...calls, ...late].map((c) => c.audit.id));
  });

  it('spools beyond maxBuffered instead of growing memory, and still delivers everything once', async () => {
    const sink = make({ maxBuffered: 100, batchSize: 40 });
    await sink.start();
    const calls = Array.from({ length: 500 }, () => call());
    for (const c of calls) sink.emit(c.audit, c.usage);
    await sink.durable();
    expect(sink.stats().buffered).toBe(100);
    expect(sink.stats().spooledEvents).toBe(900);
    await until(() => {
      const s = sink.stats();
      return s.spooledEvents === 0 && s.buffered === 0 && s.sending === 0 && allFiles().length === 0;
    });
    const audit = await ids(admin, QueueName.Audit);
    expect(audit).toHaveLength(500);
    expect(new Set(audit)).toEqual(new Set(calls.map((c) => c.audit.id)));
  });

  it('refuses (and counts) a call whose event cannot be serialised: no record of it at all, the rest delivered', async () => {
    const errors: Error[] = [];
    const sink = make({ onError: (e) => errors.push(e) });
    await sink.start();
    const good = call();
    const bad = call();
    bad.audit.arguments = { n: BigInt(1) };
    sink.emit(good.audit, good.usage);
    const goodCommit = sink.durable();
    sink.emit(bad.audit, bad.usage);
    await expect(sink.durable()).rejects.toThrow(/could not be serialised/);
    await goodCommit;
    await until(() => sink.stats().flushed === 2 && allFiles().length === 0);
    expect(sink.stats().droppedEvents).toBe(2);
    expect(await ids(admin, QueueName.Audit)).toEqual([good.audit.id]);
    expect(await ids(admin, QueueName.Usage)).toEqual([good.usage.id]);
    expect(errors.some((e) => /BigInt/.test(e.message))).toBe(true);
  });

  describe('with a Redis of its own that fails', () => {
    let port: number;
    let dataDir: string;
    let server: ChildProcess | null;
    let client: Redis | null;

    beforeEach(async () => {
      port = await freePort();
      dataDir = mkdtempSync(join(tmpdir(), 'tg-redis-'));
      server = await startRedis(port, dataDir);
      client = null;
    });
    afterEach(async () => {
      client?.disconnect();
      if (server) {
        server.kill('SIGCONT');
        await killRedis(server);
      }
      rmSync(dataDir, { recursive: true, force: true });
    });

    /** Emits `perTick` calls every `everyMs` until stopped; returns every call made. */
    function produce(sink: QueueEventSink, perTick: number, everyMs: number) {
      const made: { audit: AuditEvent; usage: UsageEvent }[] = [];
      const timer = setInterval(() => {
        for (let i = 0; i < perTick; i++) {
          const c = call();
          made.push(c);
          sink.emit(c.audit, c.usage);
        }
      }, everyMs);
      const stop = () => clearInterval(timer);
      cleanups.push(stop); // stopped even if the test fails half-way
      return { made, stop };
    }

    it('Redis killed while events flow and restarted on the same port: every event exactly once, spool gone', async () => {
      const connection: RedisOptions = { host: '127.0.0.1', port, retryStrategy: () => 50 };
      const sink = make({ connection, flushMs: 10, batchSize: 100, retryMs: 50, sendTimeoutMs: 1000 });
      await sink.start();
      const producer = produce(sink, 10, 5);
      await until(() => sink.stats().flushed > 500);

      // Crash point. Freeze writes so that what is stored can be saved exactly (a real Redis with
      // persistence comes back with what it had acknowledged; this one has none, so take a
      // snapshot by hand), then SIGKILL it while the sink keeps sending.
      const before = new Redis({ host: '127.0.0.1', port, retryStrategy: () => null });
      let acceptedBeforeCrash: string[];
      try {
        await before.call('CLIENT', 'PAUSE', '30000', 'WRITE');
        acceptedBeforeCrash = await ids(before, QueueName.Audit);
        await before.save();
      } finally {
        before.disconnect();
      }
      await killRedis(server!);
      server = null;

      // Redis is gone: what is emitted now goes to the spool.
      await until(() => sink.stats().spooledEvents > 200, 10_000, 'events spooled');
      expect(sink.stats().redisConnected).toBe(false);
      await sleep(300);

      server = await startRedis(port, dataDir); // loads the snapshot
      client = new Redis({ host: '127.0.0.1', port });
      // It comes back with what it had (the sink may already be writing again: more is fine here;
      // the end of the test checks every event exactly once).
      expect(await ids(client, QueueName.Audit)).toEqual(expect.arrayContaining(acceptedBeforeCrash));
      await sleep(300); // keep emitting while the spool replays
      producer.stop();

      await until(() => {
        const s = sink.stats();
        return s.buffered === 0 && s.sending === 0 && s.spooledEvents === 0 && allFiles().length === 0;
      });
      const audit = await ids(client, QueueName.Audit);
      const usage = await ids(client, QueueName.Usage);
      const made = producer.made;
      expect(made.length).toBeGreaterThan(acceptedBeforeCrash.length + 100);
      expect(audit).toHaveLength(made.length);
      expect(usage).toHaveLength(made.length);
      expect(new Set(audit)).toEqual(new Set(made.map((c) => c.audit.id)));
      expect(new Set(usage)).toEqual(new Set(made.map((c) => c.usage.id)));
      expect(sink.stats().corruptSpoolLines).toBe(0);
    });

    it('replay moves past a spool file deleted meanwhile and one it cannot read', async () => {
      await killRedis(server!);
      server = null;
      const errors: Error[] = [];
      const sink = make({
        connection: { host: '127.0.0.1', port, retryStrategy: () => 50 },
        maxSpoolFileBytes: 1000,
        onError: (e) => errors.push(e),
      });
      await sink.start();
      const batches = [0, 1, 2].map(() => Array.from({ length: 5 }, () => call()));
      for (const [i, batch] of batches.entries()) {
        for (const c of batch) sink.emit(c.audit, c.usage);
        await until(() => onDisk() === 10 * (i + 1));
      }
      const files = spoolFiles().sort();
      expect(files).toHaveLength(3); // one file per batch at this size
      rmSync(join(spoolDir, files[0]!)); // someone deleted it
      rmSync(join(spoolDir, files[1]!));
      mkdirSync(join(spoolDir, files[1]!)); // unreadable as a file
      server = await startRedis(port, dataDir);
      // The replayed file is unlinked after its events were accepted (and counted): wait for that too.
      await until(() => sink.stats().spooledEvents === 0 && sink.stats().flushed === 10 && spoolFiles().length === 1);
      client = new Redis({ host: '127.0.0.1', port });
      expect((await ids(client, QueueName.Audit)).sort()).toEqual(batches[2]!.map((c) => c.audit.id).sort());
      expect(errors.some((e) => (e as NodeJS.ErrnoException).code === 'EISDIR')).toBe(true);
      expect(spoolFiles()).toEqual([files[1]]); // left for a later process
      // New events still flow.
      const after = call();
      sink.emit(after.audit, after.usage);
      await until(() => sink.stats().flushed === 12);
    });

    it('queue setup that hangs on a frozen Redis and fails when it dies: spooled meanwhile, set up again on the next Redis', async () => {
      const sink = make({ connection: { host: '127.0.0.1', port, retryStrategy: () => 50 }, sendTimeoutMs: 200 });
      await sink.start();
      await until(() => sink.stats().redisConnected);
      server!.kill('SIGSTOP'); // before the queues were ever set up
      const calls = Array.from({ length: 10 }, () => call());
      for (const c of calls) sink.emit(c.audit, c.usage);
      await until(() => sink.stats().failedFlushes > 0 && sink.stats().spooledEvents === 20);
      await killRedis(server!);
      await sleep(300); // reconnects keep failing: ioredis fails the pending setup command
      server = await startRedis(port, dataDir); // empty
      await until(() => sink.stats().spooledEvents === 0 && allFiles().length === 0);
      client = new Redis({ host: '127.0.0.1', port });
      expect((await ids(client, QueueName.Audit)).sort()).toEqual(calls.map((c) => c.audit.id).sort());
      expect((await ids(client, QueueName.Usage)).sort()).toEqual(calls.map((c) => c.usage.id).sort());
    });

    it('a Redis that stops answering: sends time out, events are spooled, and delivered once it answers', async () => {
      const connection: RedisOptions = { host: '127.0.0.1', port };
      const sink = make({ connection, flushMs: 10, batchSize: 100, retryMs: 50, sendTimeoutMs: 200 });
      await sink.start();
      const producer = produce(sink, 5, 5);
      await until(() => sink.stats().flushed > 100);
      server!.kill('SIGSTOP'); // connected, but silent
      // A send hangs: its events count as `sending` until the timeout spools them.
      await until(() => sink.stats().sending > 0, 5000, 'a send in flight');
      await until(() => sink.stats().failedFlushes > 0 && sink.stats().spooledEvents > 100, 10_000, 'timeouts spooled');
      server!.kill('SIGCONT');
      await sleep(200);
      producer.stop();
      await until(() => {
        const s = sink.stats();
        return s.buffered === 0 && s.sending === 0 && s.spooledEvents === 0 && allFiles().length === 0;
      });
      client = new Redis({ host: '127.0.0.1', port });
      // Every event arrived. A send that timed out may still have been taken when Redis woke up,
      // and its spooled copy is replayed in jobs cut differently (other job ids): the queue may
      // then hold an event twice, which the consumers store once (at least once, by contract).
      const audit = await ids(client, QueueName.Audit);
      expect(audit.length).toBeGreaterThanOrEqual(producer.made.length);
      expect(new Set(audit)).toEqual(new Set(producer.made.map((c) => c.audit.id)));
      expect(new Set(await ids(client, QueueName.Usage))).toEqual(new Set(producer.made.map((c) => c.usage.id)));
    });
  });

  it('measures emit() cost (100k calls, no disk, no network) and end-to-end throughput to Redis', async () => {
    // emit() cost: a sink that is never started writes and sends nothing; emit() serialises the
    // call's two events into the WAL's group (the one cost the WAL adds to the hot path).
    const pool = Array.from({ length: 1024 }, () => call());
    const idle = new QueueEventSink({ connection: REDIS_URL, prefix, spoolDir, batchSize: 10_000_000, maxBuffered: 10_000_000 });
    for (let i = 0; i < 20_000; i++) idle.emit(pool[i & 1023]!.audit, pool[i & 1023]!.usage); // warm-up
    const bench = new QueueEventSink({ connection: REDIS_URL, prefix, spoolDir, batchSize: 10_000_000, maxBuffered: 10_000_000 });
    const N = 100_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) bench.emit(pool[i & 1023]!.audit, pool[i & 1023]!.usage);
    const ns = Number(process.hrtime.bigint() - t0) / N;
    expect(bench.stats().buffered).toBe(0); // not on disk yet: nothing may leave
    console.log(`QueueEventSink.emit: ${ns.toFixed(1)} ns per call (100k calls)`);
    expect(ns).toBeLessThan(50_000); // no I/O per call: an fsync alone would cost milliseconds

    // End to end: 50,000 calls = 100,000 events into the two queues of the local Redis.
    const sink = make({ flushMs: 50, batchSize: 500 });
    await sink.start();
    const calls = Array.from({ length: 50_000 }, () => call());
    const started = performance.now();
    for (const c of calls) sink.emit(c.audit, c.usage);
    await until(() => sink.stats().flushed === 100_000, 120_000);
    const seconds = (performance.now() - started) / 1000;
    console.log(`QueueEventSink end to end: ${Math.round(100_000 / seconds)} events/s reaching Redis (batchSize 500)`);
    expect(await ids(admin, QueueName.Audit)).toHaveLength(50_000);
  }, 180_000);
});
