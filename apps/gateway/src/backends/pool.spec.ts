import { UnconfinedLauncher } from './sandbox/launcher';
import type { JsonRpcNotification } from '../core/jsonrpc';
import { FIXTURE, nodeSpec, processState, resultText, waitFor } from '../../test/fixtures/stdio-helpers';
import { BackendPool, type BackendPoolOptions, type RetireReason } from './pool';
import { StdioBackend } from './stdio';
import { type Backend, BackendError, type BackendHealth, type BackendSpec, type InitializeInfo } from './types';

/** BackendPool over real stdio children (test/fixtures/stdio-server.mjs). */

const pools: BackendPool[] = [];
const pids = new Set<number>();

function makePool(options: BackendPoolOptions = {}): { pool: BackendPool; retired: Array<[string, RetireReason]> } {
  const retired: Array<[string, RetireReason]> = [];
  const pool = new BackendPool({
    stdio: { launcher: new UnconfinedLauncher(), killGraceMs: 1000 },
    onRetire: (k, r) => retired.push([k, r]),
    ...options,
  });
  pools.push(pool);
  return { pool, retired };
}

/** Call the fixture's pid tool: starts the child and tells which process serves this backend. */
async function childPid(b: Backend): Promise<number> {
  const pid = Number(resultText(await b.request('tools/call', { name: 'pid', arguments: {} }, { sessionId: 's' })));
  pids.add(pid);
  return pid;
}

const sleepCall = (b: Backend, ms: number) => b.request('tools/call', { name: 'sleep', arguments: { ms } }, { sessionId: 's' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.closeAll()));
});

afterAll(() => {
  for (const pid of pids) expect(processState(pid)).toBe('gone');
});

describe('BackendPool', () => {
  it('shares one backend (one child) per key across sessions, and makes one per key', async () => {
    const { pool } = makePool();
    const specA = nodeSpec(FIXTURE, [], { key: 'org-1:a:1' });
    const specB = nodeSpec(FIXTURE, [], { key: 'org-1:b:1' });
    const a1 = pool.get(specA);
    const a2 = pool.get({ ...specA });
    expect(a2).toBe(a1);
    expect(a1).toBeInstanceOf(StdioBackend);
    const b = pool.get(specB);
    expect(b).not.toBe(a1);
    const [pa1, pa2, pb] = await Promise.all([childPid(a1), childPid(a2), childPid(b)]);
    expect(pa1).toBe(pa2);
    expect(pb).not.toBe(pa1);
    expect(pool.size).toBe(2);
    expect(pool.peek('org-1:a:1')).toBe(a1);
    expect(pool.peek('nope')).toBeUndefined();
  });

  it('reaps idle backends with a timer, but never busy ones', async () => {
    const { pool, retired } = makePool({ idleMs: 200, reapIntervalMs: 50 });
    const idle = pool.get(nodeSpec(FIXTURE, [], { key: 'idle' }));
    const busy = pool.get(nodeSpec(FIXTURE, [], { key: 'busy' }));
    const [idlePid] = await Promise.all([childPid(idle), childPid(busy)]);
    const slow = sleepCall(busy, 700);
    await waitFor(() => retired.length > 0, 3000);
    expect(retired).toEqual([['idle', 'idle']]);
    await waitFor(() => processState(idlePid) === 'gone');
    expect(idle.health).toBe('down');
    expect(pool.peek('busy')).toBe(busy);
    expect(resultText(await slow)).toBe('slept 700');
    // Once its call is over and it idles, it goes too.
    await waitFor(() => pool.size === 0, 3000);
    // The next get() of a reaped key builds a fresh backend.
    const again = pool.get(nodeSpec(FIXTURE, [], { key: 'idle' }));
    expect(again).not.toBe(idle);
    await childPid(again);
  });

  it('reapIdle() can be driven by hand with a clock', async () => {
    const { pool } = makePool({ idleMs: 60_000 });
    const b = pool.get(nodeSpec(FIXTURE, [], { key: 'k' }));
    const pid = await childPid(b);
    expect(pool.reapIdle()).toEqual([]);
    expect(pool.reapIdle(Date.now() + 61_000)).toEqual(['k']);
    await waitFor(() => processState(pid) === 'gone');
  });

  it('retain() retires unwanted keys at once, lets busy ones finish, and can be scoped to an org', async () => {
    const { pool, retired } = makePool();
    const keep = pool.get(nodeSpec(FIXTURE, [], { key: 'org-1:keep' }));
    const drop = pool.get(nodeSpec(FIXTURE, [], { key: 'org-1:drop' }));
    const busy = pool.get(nodeSpec(FIXTURE, [], { key: 'org-1:busy' }));
    const other = pool.get(nodeSpec(FIXTURE, [], { key: 'org-2:x', orgId: 'org-2' }));
    const [, dropPid, busyPid, otherPid] = await Promise.all([childPid(keep), childPid(drop), childPid(busy), childPid(other)]);
    const inFlight = sleepCall(busy, 400);
    await sleep(20);

    expect(pool.retain(new Set(['org-1:keep']), 'org-1').sort()).toEqual(['org-1:busy', 'org-1:drop']);
    expect(retired.map(([k]) => k).sort()).toEqual(['org-1:busy', 'org-1:drop']);
    expect(pool.size).toBe(2);
    await waitFor(() => processState(dropPid) === 'gone');
    // The busy one left the pool (a new get() would build a new one) but finishes its call.
    expect(processState(busyPid)).toBe('alive');
    expect(pool.stats().reduce((n, s) => n + s.count, 0)).toBe(3);
    expect(resultText(await inFlight)).toBe('slept 400');
    await waitFor(() => processState(busyPid) === 'gone');
    expect(processState(otherPid)).toBe('alive');

    // Unscoped: every key not named goes, whatever its org.
    expect(pool.retain(new Set(['org-1:keep']))).toEqual(['org-2:x']);
    await waitFor(() => processState(otherPid) === 'gone');
  });

  it('retires isolated backends by their configuration key, and by key test when their owner goes', async () => {
    const { pool, retired } = makePool();
    const owned = (owner: string) => nodeSpec(FIXTURE, [], { key: `org-1:s:cfg1|${owner}`, configKey: 'org-1:s:cfg1' });
    const a = pool.get(owned('key:a'));
    const b = pool.get(owned('key:b'));
    const sess = pool.get(owned('session:x'));
    const [pa, pb, ps] = await Promise.all([childPid(a), childPid(b), childPid(sess)]);
    expect(new Set([pa, pb, ps]).size).toBe(3);
    // The snapshot still wants the configuration: every owner's backend stays.
    expect(pool.retain(new Set(['org-1:s:cfg1']))).toEqual([]);
    expect(pool.has((k) => k.endsWith('|session:x'))).toBe(true);
    // The session ended: only its backend goes.
    expect(pool.retireWhere((k) => k.endsWith('|session:x'))).toEqual(['org-1:s:cfg1|session:x']);
    await waitFor(() => processState(ps) === 'gone');
    expect(pool.has((k) => k.endsWith('|session:x'))).toBe(false);
    expect([processState(pa), processState(pb)]).toEqual(['alive', 'alive']);
    // The configuration changed: every owner's backend goes.
    expect(pool.retain(new Set(['org-1:s:cfg2'])).sort()).toEqual(['org-1:s:cfg1|key:a', 'org-1:s:cfg1|key:b']);
    expect(retired.map(([, r]) => r)).toEqual(['retired', 'retired', 'retired']);
    await waitFor(() => processState(pa) === 'gone' && processState(pb) === 'gone');
  });

  it('closes a draining backend after the drain deadline even if calls are still running', async () => {
    const { pool } = makePool({ drainTimeoutMs: 200 });
    const b = pool.get(nodeSpec(FIXTURE, [], { key: 'k' }));
    const pid = await childPid(b);
    const running = sleepCall(b, 5000).catch((e: unknown) => e);
    await sleep(20);
    pool.retain(new Set());
    const err = (await running) as BackendError;
    expect(err.kind).toBe('unavailable');
    expect(err.message).toMatch(/backend was closed/);
    await waitFor(() => processState(pid) === 'gone');
  });

  it('evicts the least recently used idle backend at maxBackends, and refuses when all are busy', async () => {
    const { pool, retired } = makePool({ maxBackends: 2 });
    const a = pool.get(nodeSpec(FIXTURE, [], { key: 'a' }));
    const pidA = await childPid(a);
    await sleep(5);
    const b = pool.get(nodeSpec(FIXTURE, [], { key: 'b' }));
    await childPid(b);
    await sleep(5);
    await childPid(a); // a is now more recent than b
    pool.get(nodeSpec(FIXTURE, [], { key: 'c' }));
    expect(retired).toEqual([['b', 'evicted']]);
    expect(pool.peek('a')).toBe(a);
    expect(processState(pidA)).toBe('alive');

    const c = pool.peek('c')!;
    await childPid(c);
    const busy = [sleepCall(a, 300), sleepCall(c, 300)];
    await sleep(20);
    expect(() => pool.get(nodeSpec(FIXTURE, [], { key: 'd' }))).toThrow(/maximum of 2 backends and all of them are busy/);
    await Promise.all(busy);
  });

  it('uses the factory map per transport and refuses transports without one', async () => {
    const made: string[] = [];
    const fake = (spec: BackendSpec): Backend => {
      made.push(spec.key);
      const health: BackendHealth = 'up';
      return {
        key: spec.key,
        server: spec.server,
        health,
        inFlight: 0,
        lastUsedAt: Date.now(),
        ready: async () =>
          ({ protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'sse', version: '1' } }) as InitializeInfo,
        request: async () => ({}),
        notify: async () => undefined,
        onUnsolicited: (_l: (n: JsonRpcNotification) => void) => () => undefined,
        close: async () => undefined,
      };
    };
    const base = nodeSpec(FIXTURE);
    const sseSpec = {
      ...base,
      key: 'sse-1',
      server: { ...base.server, transport: 'sse' as const, command: null, url: 'http://127.0.0.1:1/sse' },
    };
    const httpSpec = { ...sseSpec, key: 'http-1', server: { ...sseSpec.server, transport: 'streamable-http' as const } };

    const { pool: plain } = makePool();
    let err: unknown;
    try {
      plain.get(httpSpec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).message).toMatch(/no backend for the streamable-http transport/);

    const { pool } = makePool({ factories: { sse: fake } });
    expect(pool.get(sseSpec).server.transport).toBe('sse');
    expect(made).toEqual(['sse-1']);
    expect(pool.get(nodeSpec(FIXTURE))).toBeInstanceOf(StdioBackend); // stdio keeps its default
    expect(() => pool.get(httpSpec)).toThrow(BackendError);
  });

  it('passes a factory error through and keeps nothing for it', () => {
    const { pool } = makePool();
    const spec = nodeSpec(FIXTURE);
    expect(() => pool.get({ ...spec, server: { ...spec.server, command: null } })).toThrow(/without a command/);
    expect(pool.size).toBe(0);
  });

  it('stats() counts backends by transport and health', async () => {
    const { pool } = makePool();
    const up = pool.get(nodeSpec(FIXTURE, [], { key: 'up' }));
    pool.get(nodeSpec(FIXTURE, [], { key: 'cold' }));
    const broken = pool.get(nodeSpec(FIXTURE, [], { key: 'broken', env: { FIXTURE_MODE: 'exit-on-start' } }));
    await childPid(up);
    await broken.ready().catch(() => undefined);
    const stats = pool.stats().sort((x, y) => x.health.localeCompare(y.health));
    expect(stats).toEqual([
      { transport: 'stdio', health: 'down', count: 1 },
      { transport: 'stdio', health: 'starting', count: 1 },
      { transport: 'stdio', health: 'up', count: 1 },
    ]);
  });

  it('closeAll() closes everything, draining ones too, leaves no process, and refuses new backends', async () => {
    const { pool, retired } = makePool();
    const backends = [0, 1, 2].map((i) => pool.get(nodeSpec(FIXTURE, [], { key: `k${i}` })));
    const childPids = await Promise.all(backends.map(childPid));
    const grandchild = Number(
      resultText(await backends[0].request('tools/call', { name: 'grandchild', arguments: {} }, { sessionId: 's' })),
    );
    // One retired while busy: it is draining when closeAll() comes.
    const draining = sleepCall(backends[2], 5000).catch((e: unknown) => e);
    await sleep(20);
    pool.retain(new Set(['k0', 'k1']));
    await pool.closeAll();
    for (const pid of childPids) expect(processState(pid)).toBe('gone');
    expect(processState(grandchild)).not.toBe('alive');
    expect(((await draining) as BackendError).kind).toBe('unavailable');
    expect(retired.map(([k, r]) => `${k}:${r}`).sort()).toEqual(['k0:shutdown', 'k1:shutdown', 'k2:retired']);
    expect(pool.size).toBe(0);
    expect(pool.stats()).toEqual([]);
    expect(() => pool.get(nodeSpec(FIXTURE))).toThrow(/shutting down/);
    await pool.closeAll(); // idempotent
  });
});
