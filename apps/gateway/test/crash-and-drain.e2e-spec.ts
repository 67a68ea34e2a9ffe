/**
 * No success without a record, and deploys that fail no call: gateway workers run as their own
 * processes (src/main.ts) so that a test can SIGKILL or SIGTERM them; the API runs in-process.
 * Records are checked in the tg-audit queue (what the API worker consumes, idempotent on the
 * event id): a call counts as recorded once when exactly one distinct event id carries it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { type AuditEvent, QueueName } from '@toolgate/contracts';
import { type GatewayProcess, killGateway, startGatewayProcess } from './fixtures/gateway-process';
import { createOrg, everythingServer, type Org, openSession, queuedEvents, sleep, textOf } from './fixtures/gw-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(240_000);

let stack: Stack;
let o: Org;
let spoolDir: string;
const running: GatewayProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ gateways: 0 });
  o = await createOrg(stack, { servers: [everythingServer()] });
});
beforeEach(() => {
  spoolDir = mkdtempSync(join(tmpdir(), 'tg-wal-e2e-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map(killGateway));
  rmSync(spoolDir, { recursive: true, force: true });
});
afterAll(async () => {
  await stack.close();
});

async function gateway(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const g = await startGatewayProcess({
    QUEUE_PREFIX: stack.queuePrefix,
    SPOOL_DIR: spoolDir,
    PUBLIC_API_URL: stack.apiUrl,
    ...env,
  });
  running.push(g);
  return g;
}

const endpoint = (g: GatewayProcess) => `${g.url}/mcp/${o.org.slug}`;

/** Distinct audit event ids per echoed message, for the messages of this test (prefix). */
async function recordsByMessage(prefix: string): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const e of await queuedEvents<AuditEvent>(stack, QueueName.Audit)) {
    const message = (e.arguments as { message?: unknown } | null)?.message;
    if (e.orgId !== o.org.id || e.method !== 'tools/call' || typeof message !== 'string' || !message.startsWith(prefix)) continue;
    const ids = out.get(message) ?? new Set<string>();
    ids.add(e.id);
    out.set(message, ids);
  }
  return out;
}

async function echo(client: Client, message: string): Promise<boolean> {
  const r = await client.callTool({ name: 'everything__echo', arguments: { message } });
  return !r.isError && textOf(r).includes(message);
}

describe('SIGKILL under load', () => {
  it('every call an agent saw succeed has exactly one audit record after the next worker replays the WAL; no record of a call never made', async () => {
    const TRIALS = 4;
    const AGENTS = 6;
    const prefix = `kill-${Date.now()}-`;
    const succeeded = new Set<string>();
    const issued = new Set<string>();
    let inFlightAtKills = 0;
    for (let t = 0; t < TRIALS; t++) {
      // Both flush modes: a process crash must lose nothing whether records wait for the device or the kernel.
      const g = await gateway({ EVENT_LOG_FLUSH: t % 2 === 0 ? 'disk' : 'os' });
      const clients = await Promise.all(Array.from({ length: AGENTS }, () => connect(endpoint(g), o.key)));
      // The server is up before the window opens: on a busy box its sandboxed start alone can fill it.
      await Promise.all(clients.map((client, a) => echo(client, `warm-${t}-${a}`)));
      let killed = false;
      const agents = clients.map(async (client, a) => {
        for (let n = 0; !killed; n++) {
          const message = `${prefix}${t}-${a}-${n}`;
          issued.add(message);
          try {
            if (await echo(client, message)) succeeded.add(message);
          } catch {
            if (!killed) throw new Error(`call ${message} failed before the kill`);
            inFlightAtKills++;
            return;
          }
        }
      });
      await sleep(800 + Math.random() * 700); // under load, at a random point
      killed = true;
      g.child.kill('SIGKILL');
      await g.exited;
      await Promise.all(agents);
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    }
    // The next worker on this host replays what the killed ones left in the WAL.
    await gateway();
    const deadline = Date.now() + 30_000;
    let records = await recordsByMessage(prefix);
    while ([...succeeded].some((m) => !records.has(m)) && Date.now() < deadline) {
      await sleep(200);
      records = await recordsByMessage(prefix);
    }
    expect(succeeded.size).toBeGreaterThan(TRIALS * AGENTS * 5); // there was load
    const missing = [...succeeded].filter((m) => !records.has(m));
    expect(missing).toEqual([]);
    const twice = [...records].filter(([, ids]) => ids.size !== 1).map(([m]) => m);
    expect(twice).toEqual([]);
    // A record never names a call nobody made; one without a seen success can only be a call that was
    // in flight at a kill (it ran and was recorded, but the answer died with the process).
    const unseen = [...records.keys()].filter((m) => !succeeded.has(m));
    for (const m of unseen) expect(issued.has(m)).toBe(true);
    expect(unseen.length).toBeLessThanOrEqual(inFlightAtKills);
    console.log(
      `SIGKILL × ${TRIALS}: ${succeeded.size} calls succeeded, all recorded once; ${inFlightAtKills} in flight at the kills, ${unseen.length} of them recorded`,
    );
  });
});

describe('SIGTERM', () => {
  it('lets calls in flight finish, refuses new requests with 503 + Retry-After, /readyz 503, ends streams, exits within the grace period', async () => {
    const GRACE = 8000;
    const g = await gateway({ SHUTDOWN_GRACE_MS: String(GRACE) });
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(endpoint(g), o.key)));
    const slow = clients.map((c) =>
      c.callTool({ name: 'everything__trigger-long-running-operation', arguments: { duration: 2, steps: 2 } }, undefined, {
        timeout: 20_000,
      }),
    );
    // A session's GET stream, open throughout: it must end (so its agent reconnects elsewhere), after the calls.
    const session = await openSession(endpoint(g), o.key);
    const get = await fetch(endpoint(g), {
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${o.key}`,
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
      },
    });
    expect(get.status).toBe(200);
    const streamEnded = (async () => {
      const reader = get.body!.getReader();
      for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) return performance.now();
    })();
    await sleep(500);
    const t0 = performance.now();
    g.child.kill('SIGTERM');
    await sleep(200);
    const ready = await fetch(`${g.url}/readyz`);
    expect(ready.status).toBe(503);
    const refused = await fetch(endpoint(g), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${o.key}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('connection')).toBe('close');
    const results = await Promise.all(slow);
    const answered = performance.now();
    for (const r of results) expect(r.isError).toBeFalsy();
    const exit = await g.exited;
    const took = performance.now() - t0;
    expect(await streamEnded).toBeGreaterThanOrEqual(answered - 50);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(took).toBeLessThan(GRACE);
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    console.log(`SIGTERM: 5 calls of 2 s in flight all answered; exit after ${Math.round(took)} ms`);
  });
});

describe('a rolling restart of two workers under load', () => {
  it('fails no call: agents that are refused or cut off retry on a fresh session elsewhere, and no call runs twice', async () => {
    const AGENTS = 6;
    const prefix = `roll-${Date.now()}-`;
    const workers: GatewayProcess[] = [await gateway(), await gateway()];
    // The load balancer: sends to workers whose /readyz says 200.
    let live = workers.map((w) => w.url);
    let stopped = false;
    const balancer = (async () => {
      while (!stopped) {
        const states = await Promise.all(
          workers.map((w) =>
            fetch(`${w.url}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
              (r) => (r.status === 200 ? w.url : null),
              () => null,
            ),
          ),
        );
        live = states.filter((u): u is string => u !== null);
        await sleep(100);
      }
    })();
    const pick = () => live[Math.floor(Math.random() * live.length)];
    const failures: string[] = [];
    let retries = 0;
    let calls = 0;
    const agents = Array.from({ length: AGENTS }, async (_, a) => {
      let client: Client | null = null;
      for (let n = 0; !stopped; n++) {
        const message = `${prefix}${a}-${n}`;
        for (let attempt = 0; ; attempt++) {
          try {
            const url = pick();
            if (url === undefined) throw new Error('no worker ready');
            client ??= await connect(`${url}/mcp/${o.org.slug}`, o.key);
            if (!(await echo(client, message))) failures.push(`${message}: wrong answer`);
            calls++;
            break;
          } catch (e) {
            if (e instanceof McpError) {
              failures.push(`${message}: ${e.message}`); // a JSON-RPC error: the call itself failed
              break;
            }
            // Refused (503), cut off, or its session unknown: a fresh session, as the SDK's users do.
            if (attempt > 50) {
              failures.push(`${message}: gave up: ${(e as Error).message}`);
              break;
            }
            retries++;
            await client?.close().catch(() => undefined);
            client = null;
            await sleep(50);
          }
        }
      }
      await client?.close().catch(() => undefined);
    });
    await sleep(1500);
    for (let i = 0; i < workers.length; i++) {
      const old = workers[i]!;
      old.child.kill('SIGTERM');
      expect(await old.exited).toEqual({ code: 0, signal: null });
      workers[i] = await gateway();
      await sleep(1000);
    }
    await sleep(1000);
    stopped = true;
    await Promise.all(agents);
    await balancer;
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(AGENTS * 5); // there was load (how much depends on the machine)
    let records = await recordsByMessage(prefix);
    for (let i = 0; i < 50 && records.size < calls; i++) {
      await sleep(100);
      records = await recordsByMessage(prefix);
    }
    expect(records.size).toBe(calls);
    expect([...records].filter(([, ids]) => ids.size !== 1).map(([m]) => m)).toEqual([]);
    console.log(`rolling restart: ${calls} calls, ${retries} retries, no failure, each call recorded once`);
  });
});
