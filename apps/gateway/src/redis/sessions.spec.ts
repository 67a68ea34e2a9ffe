import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redisKeys } from '@toolgate/contracts';
import Redis from 'ioredis';
import { freePort, killRedis, startRedis } from '../../test/fixtures/redis-server';
import type { SessionState } from '../core/sessions';
import { hotConnection, RedisHealth } from './health';
import { SessionStore, SessionStoreUnavailable } from './sessions';

// A redis-server of this file's own, killed and frozen by pid (the shared one is never touched).
jest.setTimeout(30_000);

const TIMEOUT_MS = 150;
/** Scheduling slack on a busy machine, on top of the command timeout. */
const SLACK_MS = 100;

let port: number;
let dir: string;
let server: ChildProcess;
let hot: Redis;
let health: RedisHealth;
let reader: Redis;
let store: SessionStore;
let announced: string[];

const session = (id: string): SessionState => ({
  id,
  orgId: 'org-1',
  keyId: 'key-1',
  server: null,
  protocolVersion: '2025-11-25',
  clientInfo: { name: 'spec', version: '1' },
  clientCapabilities: {},
  logLevel: null,
  createdAt: Date.now(),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not reached within ${ms} ms`);
    await sleep(20);
  }
}

/** Milliseconds `fn` took, and what it gave or threw. */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}

const stored = async (id: string) => {
  const raw = await reader.get(redisKeys.session(id));
  return raw ? (JSON.parse(raw) as SessionState) : null;
};

beforeEach(async () => {
  port = await freePort();
  dir = mkdtempSync(path.join(tmpdir(), 'tg-sessions-'));
  server = await startRedis(port, dir);
  const url = `redis://127.0.0.1:${port}`;
  reader = new Redis(url, { retryStrategy: () => 50 });
  reader.on('error', () => undefined);
  hot = hotConnection(url, TIMEOUT_MS);
  health = new RedisHealth(hot, 100);
  await health.start();
  announced = [];
  store = new SessionStore(hot, health, {
    ttlSeconds: 600,
    localTtlMs: 100,
    announce: async (id) => {
      announced.push(id);
    },
  });
  health.onUp(() => void store.writeBack());
});

afterEach(async () => {
  health.stop();
  hot.disconnect();
  reader.disconnect();
  await killRedis(server);
  rmSync(dir, { recursive: true, force: true });
});

async function restartEmpty(): Promise<void> {
  server = await startRedis(port, dir);
  await until(() => health.usable());
}

describe('SessionStore while Redis is down', () => {
  it('serves a session it knows at once; one it never saw is unavailable (not "not found")', async () => {
    await store.create(session('known'));
    await killRedis(server);
    await until(() => !health.usable());
    await sleep(150); // past the local TTL: the copy would normally be re-read
    for (let i = 0; i < 20; i++) {
      const r = await timed(() => store.get('known'));
      expect(r.value?.id).toBe('known');
      expect(r.ms).toBeLessThan(20);
    }
    const unknown = await timed(() => store.get('never-seen'));
    expect(unknown.error).toBeInstanceOf(SessionStoreUnavailable);
    expect(unknown.ms).toBeLessThan(20);
  });

  it('keeps updates, new sessions and deletions locally and writes them back when Redis returns (empty)', async () => {
    await store.create(session('changed'));
    await store.create(session('doomed'));
    await killRedis(server);
    await until(() => !health.usable());

    const s = (await store.get('changed'))!;
    s.logLevel = 'debug';
    await store.update(s);
    await store.create(session('born-offline'));
    await store.delete('doomed');
    expect(store.pending).toBe(3);
    expect((await store.get('changed'))?.logLevel).toBe('debug');
    expect((await store.get('born-offline'))?.id).toBe('born-offline');
    expect(await store.get('doomed')).toBeNull();
    expect(announced).toEqual([]);

    await restartEmpty();
    await until(() => store.pending === 0);
    expect((await stored('changed'))?.logLevel).toBe('debug');
    expect((await stored('born-offline'))?.id).toBe('born-offline');
    expect(await stored('doomed')).toBeNull();
    // Other workers drop their cached copies of what changed here meanwhile.
    expect(announced.sort()).toEqual(['born-offline', 'changed', 'doomed']);
  });

  it('puts back a session used while away that Redis lost; an idle one is not resurrected', async () => {
    await store.create(session('used'));
    await store.create(session('idle'));
    await killRedis(server);
    await until(() => !health.usable());
    await sleep(150);
    expect((await store.get('used'))?.id).toBe('used');

    await restartEmpty();
    await until(async () => (await stored('used')) !== null);
    // The idle one was not served meanwhile: like any worker's, it is gone with Redis's data.
    expect(await stored('idle')).toBeNull();
    expect((await store.get('used'))?.id).toBe('used');
  });
});

describe('SessionStore while Redis is frozen (SIGSTOP)', () => {
  afterEach(() => {
    server.kill('SIGCONT');
  });

  it('no read waits longer than the command timeout; after the first, none waits at all; SIGCONT restores Redis reads', async () => {
    await store.create(session('a'));
    await store.create(session('b'));
    await sleep(150);
    server.kill('SIGSTOP');
    const first = await timed(() => store.get('a'));
    expect(first.value?.id).toBe('a');
    expect(first.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expect(health.report().state).toBe('slow');

    const later = await timed(() => store.get('b'));
    expect(later.value?.id).toBe('b');
    expect(later.ms).toBeLessThan(20);
    const unknown = await timed(() => store.get('never-seen'));
    expect(unknown.error).toBeInstanceOf(SessionStoreUnavailable);
    expect(unknown.ms).toBeLessThan(20);
    // An update waits for nothing either: kept for write-back.
    const b = later.value!;
    b.logLevel = 'error';
    const upd = await timed(() => store.update(b));
    expect(upd.ms).toBeLessThan(20);

    // Another worker's change, queued in the frozen server before this worker's write-back.
    const kept = reader.set(redisKeys.session('a'), JSON.stringify({ ...session('a'), logLevel: 'warning' }), 'EX', 600);

    server.kill('SIGCONT');
    await kept;
    await until(() => health.usable());
    await until(() => store.pending === 0);
    expect((await stored('b'))?.logLevel).toBe('error');
    // `a` was only read here while away: restored NX, so the copy Redis kept wins and is read back.
    await until(async () => (await store.get('a'))?.logLevel === 'warning');
    // Back to Redis: a session deleted there is gone here too once the copy is re-read.
    await reader.del(redisKeys.session('a'));
    await sleep(150);
    expect(await store.get('a')).toBeNull();
  });
});
