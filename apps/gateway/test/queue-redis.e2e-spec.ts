/**
 * Redis persistence for queued events (the redis service's arguments in docker-compose.yml). A gateway retires a call's WAL
 * entries once BullMQ acknowledged its events, so from then on Redis holds the only copy: a
 * redis-server run with the shipped configuration must come back from a SIGKILL with every job
 * it acknowledged. (With the test fixture's default, no persistence, this test fails.)
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEvent, EVENT_SCHEMA_VERSION, eventsOfJob, QueueName, type UsageEvent } from '@toolgate/contracts';
import { Queue } from 'bullmq';
import { uuidv7 } from 'uuidv7';
import { QueueEventSink } from '../src/events/emitter';
import { freePort, killRedis, startRedis } from './fixtures/redis-server';

jest.setTimeout(60_000);

/** The shipped Redis settings: the compose file's redis command, less the program name. */
function shippedRedisArgs(): string[] {
  const { parse } = require('yaml') as { parse(s: string): { services: { redis: { command: string[] } } } };
  const compose = parse(readFileSync(join(__dirname, '..', '..', '..', 'docker-compose.yml'), 'utf8'));
  return compose.services.redis.command.slice(1);
}
const SHIPPED = shippedRedisArgs();

function call(): { audit: AuditEvent; usage: UsageEvent } {
  const at = new Date().toISOString();
  const id = uuidv7();
  const common = {
    schemaVersion: EVENT_SCHEMA_VERSION,
    orgId: 'org_aof',
    keyId: 'key_1',
    serverId: 'srv_1',
    target: 'echo',
    method: 'tools/call',
  };
  return {
    audit: {
      ...common,
      id,
      serverSlug: 'everything',
      arguments: { n: id },
      decision: 'allow',
      rule: null,
      outcome: 'ok',
      error: null,
      latencyMs: 1,
      bytesIn: 10,
      bytesOut: 10,
      clientName: null,
      clientVersion: null,
      sessionId: null,
      ip: null,
      at,
    },
    usage: { ...common, id, decision: 'allow', outcome: 'ok', durationMs: 1, bytesIn: 10, bytesOut: 10, at },
  } as { audit: AuditEvent; usage: UsageEvent };
}

let dataDir: string;
let spoolDir: string;
let redis: ChildProcess | null = null;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tg-aof-'));
  spoolDir = mkdtempSync(join(tmpdir(), 'tg-aof-spool-'));
});
afterEach(async () => {
  if (redis) await killRedis(redis);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(spoolDir, { recursive: true, force: true });
});

it('a redis-server run as docker-compose.yml runs it keeps every acknowledged event across a SIGKILL, after the gateway retired them from its WAL', async () => {
  const port = await freePort();
  redis = await startRedis(port, dataDir, SHIPPED);
  const prefix = `tgaof-${randomBytes(4).toString('hex')}`;
  const sink = new QueueEventSink({ connection: { host: '127.0.0.1', port }, prefix, spoolDir, flushMs: 10 });
  await sink.start();
  const calls = Array.from({ length: 300 }, () => call());
  for (const c of calls) sink.emit(c.audit, c.usage);
  await sink.durable();
  const deadline = Date.now() + 10_000;
  while (sink.stats().flushed < 600 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(sink.stats().flushed).toBe(600);
  // Acknowledged and retired: the gateway keeps no copy (no WAL segment, no spool file).
  while (readdirSync(spoolDir).some((n) => n.endsWith('.ndjson')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(readdirSync(spoolDir).filter((n) => n.endsWith('.ndjson'))).toEqual([]);
  await sink.close(500);

  await killRedis(redis); // no SAVE, no shutdown: only what the configuration persisted survives
  redis = await startRedis(port, dataDir, SHIPPED);
  const queue = new Queue(QueueName.Audit, { connection: { host: '127.0.0.1', port }, prefix });
  try {
    const jobs = await queue.getJobs(['waiting'], 0, -1);
    const ids = jobs.flatMap((j) => {
      const unpacked = eventsOfJob(j.data);
      return unpacked.ok ? unpacked.events.map((e) => (e as { id: string }).id) : [];
    });
    expect(new Set(ids)).toEqual(new Set(calls.map((c) => c.audit.id)));
  } finally {
    await queue.close();
  }
});
