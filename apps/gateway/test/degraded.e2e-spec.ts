/**
 * Redis down or frozen under load (issue 15): established sessions keep serving from local state
 * within bounded waits, `/readyz` stays 200 and `/health` says what is away; when Redis returns
 * the sessions are written back and every call the agents saw succeed has exactly one audit
 * event (spooled, then replayed). Also: org slugs cannot be enumerated.
 * Each test runs on a redis-server of its own, killed or stopped by pid; the shared one is never touched.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type AuditEvent, redisKeys } from '@toolgate/contracts';
import Redis from 'ioredis';
import { CallLoad, type PhaseSummary } from './fixtures/call-load';
import { ALLOW_ALL, auditEvents, createOrg, type Org, openSession, post, sleep } from './fixtures/gw-helpers';
import { freePort, killRedis, startRedis } from './fixtures/redis-server';
import { type Stack, startStack } from './harness';

jest.setTimeout(120_000);

const TIMEOUT_MS = 150;
const SESSIONS = 4;
const NORMAL_MS = 4000;
const OUTAGE_MS = 15_000;
const FREEZE_MS = 10_000;
const AFTER_MS = 4000;
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {} } };

let port: number;
let dir: string;
let redis: ChildProcess;
let reader: Redis;
let stack: Stack;

beforeEach(async () => {
  port = await freePort();
  dir = mkdtempSync(path.join(tmpdir(), 'tg-degraded-'));
  redis = await startRedis(port, dir);
  reader = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  reader.on('error', () => undefined);
  stack = await startStack({ redisUrl: `redis://127.0.0.1:${port}`, gatewayEnv: { REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS) } });
});

afterEach(async () => {
  redis.kill('SIGCONT');
  await stack.close();
  reader.disconnect();
  await killRedis(redis);
  rmSync(dir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: the /health body is checked field by field.
async function health(): Promise<any> {
  return (await fetch(`${stack.gatewayUrl}/health`)).json();
}

/** The worker holds no events any more: all were taken by Redis. */
async function eventsDrained(): Promise<boolean> {
  const e = (await health()).events;
  return e.buffered === 0 && e.spooled === 0;
}

async function readyz(): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${stack.gatewayUrl}/readyz`);
  await res.text();
  return { status: res.status, ms: performance.now() - t0 };
}

async function until(check: () => Promise<boolean>, ms: number, what: string | (() => string)): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${typeof what === 'string' ? what : what()}: not within ${ms} ms`);
    await sleep(100);
  }
}

/** An org whose role also rate-limits (generously), so the limiter is on every call's path. */
async function loadOrg(): Promise<{ o: Org; url: string; sessions: string[] }> {
  const o = await createOrg(stack, { rules: { ...ALLOW_ALL, rateLimits: [{ scope: 'key', perMinute: 1_000_000, burst: 100_000 }] } });
  const url = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
  const sessions: string[] = [];
  for (let i = 0; i < SESSIONS; i++) sessions.push(await openSession(url, o.key));
  return { o, url, sessions };
}

/**
 * Each call the agent saw succeed has exactly one tools/call audit event (one event id). A batch
 * in flight when Redis froze may reach the queue twice (spooled on its send timeout, then
 * delivered on SIGCONT, in differently cut jobs): the same event id twice, which the consumers
 * store once (they are idempotent on it). Two ids for one call would be double accounting.
 */
async function expectOneAuditEventEach(o: Org, calls: { message: string }[]): Promise<void> {
  const ids = (events: AuditEvent[]) => {
    const n = new Map<string, Set<string>>();
    for (const e of events) {
      const m = (e.arguments as { message?: string } | undefined)?.message;
      if (e.method !== 'tools/call' || !m) continue;
      if (!n.has(m)) n.set(m, new Set());
      n.get(m)!.add(e.id);
    }
    return n;
  };
  const events = await auditEvents(
    stack,
    o.org.id,
    (ev) => {
      const seen = ids(ev);
      return calls.every((c) => seen.has(c.message));
    },
    60_000,
  );
  const n = ids(events);
  const wrong = calls.filter((c) => n.get(c.message)?.size !== 1).map((c) => `${c.message}: ${n.get(c.message)?.size ?? 0}`);
  expect(wrong).toEqual([]);
}

/**
 * The p99 target, 100 ms, when the machine allows it: on a shared 2-core machine busy with other
 * work even normal service may be slower, and then degraded service must be no slower than normal.
 */
const p99Bound = (normal: PhaseSummary) => Math.max(100, normal.p99);

function report(title: string, phases: Record<string, PhaseSummary>): void {
  console.log(
    `${title}\n${Object.entries(phases)
      .map(([k, v]) => `  ${k.padEnd(8)} ${JSON.stringify(v)}`)
      .join('\n')}`,
  );
}

describe('Redis down (SIGKILL) under load', () => {
  it('established sessions keep serving within bounds; readyz 200, /health says down; state and events written back', async () => {
    const { o, url, sessions } = await loadOrg();
    const load = new CallLoad(url, o.key, sessions);
    load.start();
    await sleep(1000); // warm up: backends started, catalogues cached
    const normalFrom = Date.now();
    await sleep(NORMAL_MS);

    // Pauses of the whole test process (API, consumers, gateway and client share it) are measured,
    // as in the SIGSTOP test below, so that they are not taken for waits on the dead Redis.
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();
    const killedAt = Date.now();
    await killRedis(redis);
    await sleep(2000);
    const ready = await readyz();
    expect(ready.status).toBe(200);
    const h = await health();
    expect(h).toMatchObject({ mode: 'degraded', ready: true, redis: { state: 'down' }, snapshots: { live: false } });
    expect(h.events.spooled).toBeGreaterThan(0);

    // A session no worker could confirm: retryable, never "not found" (which would make the client drop it).
    const unknown = await post(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { key: o.key, session: 'never-seen-here' });
    expect(unknown.status).toBe(503);
    expect(unknown.headers.get('retry-after')).toBeTruthy();
    // A new session is accepted locally, and a session update is kept for write-back.
    const born = await openSession(url, o.key);
    const setLevel = await post(
      url,
      { jsonrpc: '2.0', id: 2, method: 'logging/setLevel', params: { level: 'error' } },
      { key: o.key, session: born },
    );
    expect(setLevel.status).toBe(200);
    expect((await health()).sessions.pendingWriteBack).toBeGreaterThan(0);

    await sleep(killedAt + OUTAGE_MS - Date.now());
    redis = await startRedis(port, dir);
    const returnedAt = Date.now();
    stalls.disable();
    const stallMs = stalls.max / 1e6;
    await sleep(AFTER_MS);
    await load.stop();
    const done = Date.now();

    const phases = {
      normal: load.summary(normalFrom, killedAt),
      down: load.summary(killedAt, returnedAt),
      after: load.summary(returnedAt, done),
    };
    report(`Redis SIGKILL for ${OUTAGE_MS / 1000} s, ${SESSIONS} sessions (longest process stall ${Math.round(stallMs)} ms)`, phases);
    expect(load.samples.filter((s) => !s.ok).map((s) => `${s.message} → ${s.status}`)).toEqual([]);
    expect(phases.down.perSecond).toBeGreaterThanOrEqual(0.5 * phases.normal.perSecond);
    // Calls do not wait on the dead Redis: the median is no slower than before, and only the calls
    // in flight when it died (or that detected it) meet one command timeout, in the tail.
    expect(phases.down.p50).toBeLessThanOrEqual(Math.max(50, 1.5 * phases.normal.p50));
    expect(phases.down.p99).toBeLessThanOrEqual(p99Bound(phases.normal) + TIMEOUT_MS + stallMs);

    // Written back: the sessions in use and the one born offline (with its log level) are in the new Redis.
    // After the spool's replay through this same process, which a busy box slows down.
    await until(async () => (await health()).sessions.pendingWriteBack === 0, 20_000, 'session write-back');
    for (const s of sessions) expect(await reader.exists(redisKeys.session(s))).toBe(1);
    expect(JSON.parse((await reader.get(redisKeys.session(born)))!).logLevel).toBe('error');
    await until(async () => (await health()).mode === 'normal', 20_000, 'back to normal');
    await until(eventsDrained, 20_000, () => `events drained (${JSON.stringify(stack.gateways[0]!.events.stats())})`);

    // Events of calls made once Redis was gone were spooled and replayed, each exactly once (what
    // went to the old Redis before the kill died with it: that is Redis's loss, not the gateway's).
    await expectOneAuditEventEach(
      o,
      load.samples.filter((s) => s.ok && s.start >= killedAt),
    );
  });
});

describe('Redis frozen (SIGSTOP) under load', () => {
  it('no call waits longer than the command timeout; SIGCONT restores normal service and exact accounting', async () => {
    const { o, url, sessions } = await loadOrg();
    const load = new CallLoad(url, o.key, sessions);
    load.start();
    await sleep(1000);
    const normalFrom = Date.now();
    await sleep(NORMAL_MS);

    const cold = await createOrg(stack); // never used: this worker has not loaded it

    // The whole test process (API, consumers, gateway, client) pauses now and then (GC, the
    // consumers' bursts): measured, so that such pauses are not taken for waits on Redis.
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();
    const frozenAt = Date.now();
    redis.kill('SIGSTOP');
    // An org this worker never loaded cannot be checked: a retryable 503, within a bounded wait.
    const t0 = performance.now();
    const coldInit = await post(`${stack.gatewayUrl}/mcp/${cold.org.slug}`, INIT, { key: cold.key });
    expect(coldInit.status).toBe(503);
    expect(coldInit.headers.get('retry-after')).toBeTruthy();
    expect(performance.now() - t0).toBeLessThan(1500);
    await sleep(2000);
    const ready = await readyz();
    expect(ready.status).toBe(200);
    expect(ready.ms).toBeLessThan(TIMEOUT_MS);
    expect(await health()).toMatchObject({ mode: 'degraded', redis: { state: 'slow' } });
    await sleep(frozenAt + FREEZE_MS - Date.now());

    redis.kill('SIGCONT');
    const thawedAt = Date.now();
    stalls.disable();
    const stallMs = stalls.max / 1e6;
    await sleep(AFTER_MS);
    await load.stop();
    const done = Date.now();

    const phases = {
      normal: load.summary(normalFrom, frozenAt),
      frozen: load.summary(frozenAt, thawedAt),
      after: load.summary(thawedAt, done),
    };
    report(`Redis SIGSTOP for ${FREEZE_MS / 1000} s, ${SESSIONS} sessions (longest process stall ${Math.round(stallMs)} ms)`, phases);
    expect(load.samples.filter((s) => !s.ok).map((s) => `${s.message} → ${s.status}`)).toEqual([]);
    // Waiting on Redis adds at most one command timeout to what a call costs anyway, besides the
    // pauses of the whole process. Unbounded, a call would wait for the whole freeze.
    // The second of slack is scheduling beside another test file on two cores (seen: 234 ms over
    // the sum in a full run); a call that waited for Redis would wait the whole 10 s freeze.
    expect(phases.frozen.max).toBeLessThanOrEqual(TIMEOUT_MS + phases.normal.max + stallMs + 1000);
    expect(phases.frozen.perSecond).toBeGreaterThanOrEqual(0.5 * phases.normal.perSecond);
    // Beside other test files on two cores the process itself pauses; those pauses are no Redis wait.
    expect(phases.frozen.p99).toBeLessThanOrEqual(p99Bound(phases.normal) + stallMs);
    // Just after the thaw the spooled events replay through this very process: service, not speed, is the point here.
    expect(phases.after.perSecond).toBeGreaterThanOrEqual(0.25 * phases.normal.perSecond);

    await until(async () => (await health()).mode === 'normal', 20_000, 'back to normal');
    await until(eventsDrained, 20_000, () => `events drained (${JSON.stringify(stack.gateways[0]!.events.stats())})`);
    expect((await readyz()).status).toBe(200);
    // Redis kept its data: every call of the whole run is accounted for exactly once.
    await expectOneAuditEventEach(
      o,
      load.samples.filter((s) => s.ok),
    );
  });
});

describe('/readyz tells the truth', () => {
  it('a worker with no snapshot to serve from is not ready while Redis is away, and ready again once it returns', async () => {
    expect((await readyz()).status).toBe(200);
    await killRedis(redis);
    await until(async () => (await health()).redis.state === 'down', 5000, 'Redis seen down');
    const away = await readyz();
    expect(away.status).toBe(503);
    expect(await health()).toMatchObject({ mode: 'degraded', ready: false, snapshots: { orgs: 0 } });
    redis = await startRedis(port, dir);
    await until(async () => (await readyz()).status === 200, 5000, 'ready again');
  });
});

describe('org slugs cannot be enumerated', () => {
  it('an unknown org answers exactly as a known org with a wrong, missing or foreign key', async () => {
    const o = await createOrg(stack);
    const other = await createOrg(stack);
    const fake = `no-such-org-${o.org.slug.slice(-8)}`;
    const shape = async (slug: string, key: string | undefined) => {
      const res = await post(`${stack.gatewayUrl}/mcp/${slug}`, INIT, key ? { key } : {});
      return {
        status: res.status,
        body: res.text,
        challenge: res.headers.get('www-authenticate')?.replace(slug, '{org}'),
      };
    };
    for (const key of [undefined, 'tg_not-a-real-key', 'not-even-a-tg-key', other.key]) {
      const known = await shape(o.org.slug, key);
      const unknown = await shape(fake, key);
      expect(known.status).toBe(401);
      expect(unknown).toEqual(known);
    }
    // The challenge names metadata that exists for any slug, in the same shape.
    const challenge = (await shape(fake, 'tg_x')).challenge!;
    expect(challenge).toMatch(
      /^Bearer resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp\/\{org\}", scope="mcp", error="invalid_token", error_description="[^"]+"$/,
    );
    const prm = async (slug: string) => {
      const res = await fetch(`${stack.gatewayUrl}/.well-known/oauth-protected-resource/mcp/${slug}`);
      return { status: res.status, body: JSON.stringify(await res.json()).replaceAll(slug, '{org}') };
    };
    expect(await prm(fake)).toEqual(await prm(o.org.slug));

    // Timing: no extra round trip for either (medians of interleaved tries, after one of each).
    const times: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
    for (let i = 0; i < 41; i++) {
      for (const [k, slug] of [
        ['known', o.org.slug],
        ['unknown', fake],
      ] as const) {
        const t0 = performance.now();
        await shape(slug, 'tg_not-a-real-key');
        if (i > 0) times[k].push(performance.now() - t0);
      }
    }
    const median = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!;
    expect(Math.abs(median(times.known) - median(times.unknown))).toBeLessThan(2);
  });
});
