/**
 * What operators see of agent traffic: one JSON log line per request (who, what, outcome,
 * latency, a trace or request id; never arguments), and the Prometheus series that move with
 * rate-limit refusals, requests in flight, open streams and an upstream's circuit breaker.
 */
import { createOrg, everythingServer, openSession, post, sleep } from './fixtures/gw-helpers';
import { startStreamableFixture } from './fixtures/http-mcp-server';
import { type Stack, startStack } from './harness';

jest.setTimeout(30_000);

let stack: Stack;
beforeAll(async () => {
  // Tests run at LOG_LEVEL=warn; the request log is at info.
  stack = await startStack({ gatewayEnv: { LOG_LEVEL: 'info' } });
});
afterAll(() => stack.close());

const mcpUrl = (slug: string, server?: string) => `${stack.gatewayUrl}/mcp/${slug}${server ? `/${server}` : ''}`;
const scrape = async () => (await fetch(`${stack.gatewayUrl}/metrics`)).text();
/** The value of one series (labels in the order prom-client writes them), or null when absent. */
function series(text: string, name: string, labels: Record<string, string>): number | null {
  const l = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const line = text.split('\n').find((x) => x.startsWith(`${name}{${l}} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}
const call = (i: number, name: string, args: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id: i,
  method: 'tools/call',
  params: { name, arguments: args },
});

/** Lines the gateway writes to stderr while `fn` runs, parsed. */
async function captureStderr(fn: () => Promise<void>): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return lines
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('request log', () => {
  it('writes one JSON line per agent request with org, key id, method, outcome, latency and an id; no arguments', async () => {
    const o = await createOrg(stack);
    const url = mcpUrl(o.org.slug);
    const secretArg = 'do-not-log-this-argument';
    let session = '';
    const lines = await captureStderr(async () => {
      session = await openSession(url, o.key);
      expect((await post(url, call(1, 'everything__echo', { message: secretArg }), { key: o.key, session })).status).toBe(200);
      expect((await post(url, { jsonrpc: '2.0', id: 2, method: 'no/such-method' }, { key: o.key, session })).status).toBe(200);
    });
    const mine = lines.filter((l) => l.component === 'request' && l.sessionId === session);
    expect(mine).toHaveLength(3);
    const [init, ok, failed] = mine;
    expect(init).toMatchObject({ level: 'info', method: 'initialize', outcome: 'ok', keyId: o.keyId, org: o.org.slug });
    expect(ok).toMatchObject({
      level: 'info',
      msg: 'request',
      org: o.org.slug,
      orgId: o.org.id,
      keyId: o.keyId,
      method: 'tools/call',
      outcome: 'ok',
    });
    expect(typeof ok.latencyMs).toBe('number');
    expect(ok.latencyMs as number).toBeGreaterThan(0);
    expect(ok.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.requestId).not.toBe(failed.requestId);
    expect(failed).toMatchObject({ method: 'unknown', outcome: 'error', code: -32601 });
    const raw = JSON.stringify(lines);
    expect(raw).not.toContain(secretArg);
    expect(raw).not.toContain(o.key);
  });
});

describe('metrics', () => {
  it('counts a rate-limited call by scope and org', async () => {
    const o = await createOrg(stack, {
      rules: { tools: [{ effect: 'allow', match: '*' }], rateLimits: [{ scope: 'key', perMinute: 6, burst: 2 }] },
      roleName: 'limited',
    });
    const url = mcpUrl(o.org.slug);
    const session = await openSession(url, o.key);
    const labels = { org: o.org.slug, scope: 'key' };
    expect(series(await scrape(), 'toolgate_gateway_rate_limit_hits_total', labels)).toBeNull();
    for (let i = 1; i <= 2; i++) await post(url, call(i, 'everything__echo', { message: 'x' }), { key: o.key, session });
    expect(series(await scrape(), 'toolgate_gateway_rate_limit_hits_total', labels)).toBeNull();
    const errorsBefore = series(await scrape(), 'toolgate_gateway_rpc_errors_total', { code: '-32004' }) ?? 0;
    const third = await post(url, call(3, 'everything__echo', { message: 'x' }), { key: o.key, session });
    expect((third.json as { error: { code: number } }).error.code).toBe(-32004);
    const after = await scrape();
    expect(series(after, 'toolgate_gateway_rate_limit_hits_total', labels)).toBe(1);
    expect(series(after, 'toolgate_gateway_rpc_errors_total', { code: '-32004' })).toBe(errorsBefore + 1);
  });

  it('counts HTTP responses by status class', async () => {
    const count = async (c: string) => series(await scrape(), 'toolgate_gateway_http_responses_total', { class: c }) ?? 0;
    const before = await count('4xx');
    expect((await post(`${stack.gatewayUrl}/mcp/no-such-org`, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(401);
    expect((await fetch(`${stack.gatewayUrl}/nowhere`)).status).toBe(404);
    expect(await count('4xx')).toBe(before + 2);
  });

  it('shows a request in flight while it runs, and none after', async () => {
    const o = await createOrg(stack, { servers: [everythingServer()] });
    const url = mcpUrl(o.org.slug);
    const session = await openSession(url, o.key);
    const inFlight = async () => Number(/^toolgate_gateway_requests_in_flight (\d+)/m.exec(await scrape())?.[1]);
    const before = await inFlight();
    const slow = post(url, call(1, 'everything__trigger-long-running-operation', { duration: 2, steps: 2 }), { key: o.key, session });
    const deadline = Date.now() + 5000;
    while ((await inFlight()) < before + 1) {
      if (Date.now() > deadline) throw new Error('the running call never showed in flight');
      await sleep(20);
    }
    expect((await slow).status).toBe(200);
    expect(await inFlight()).toBe(before);
  });

  it('shows an open agent stream in the gauge', async () => {
    const o = await createOrg(stack);
    const url = mcpUrl(o.org.slug);
    const session = await openSession(url, o.key);
    const streams = async () => Number(/^toolgate_gateway_open_streams (\d+)/m.exec(await scrape())?.[1]);
    const before = await streams();
    const controller = new AbortController();
    const res = await fetch(url, {
      headers: {
        Accept: 'text/event-stream',
        Authorization: `Bearer ${o.key}`,
        'Mcp-Session-Id': session,
        'MCP-Protocol-Version': '2025-11-25',
      },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(await streams()).toBe(before + 1);
    controller.abort();
    const deadline = Date.now() + 5000;
    while ((await streams()) !== before) {
      if (Date.now() > deadline) throw new Error('the closed stream stayed in the gauge');
      await sleep(20);
    }
  });

  it('counts open sessions across the fleet, and a deleted one no more', async () => {
    const o = await createOrg(stack);
    const url = mcpUrl(o.org.slug);
    const open = async () => Number(/^toolgate_gateway_open_sessions (\d+)/m.exec(await scrape())?.[1]);
    const before = await open();
    const a = await openSession(url, o.key);
    await openSession(url, o.key);
    expect(await open()).toBe(before + 2);
    const ended = await fetch(url, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${o.key}`, 'Mcp-Session-Id': a, 'MCP-Protocol-Version': '2025-11-25' },
    });
    expect(ended.status).toBeLessThan(300);
    expect(await open()).toBe(before + 1);
  });

  it('shows the circuit breaker of an upstream that died open, labelled by org and server slug', async () => {
    const upstream = await startStreamableFixture();
    const o = await createOrg(stack, {
      servers: [{ slug: 'dying', name: 'Dying upstream', transport: 'streamable-http', url: upstream.url }],
    });
    const url = mcpUrl(o.org.slug, 'dying');
    const session = await openSession(url, o.key);
    const labels = { org: o.org.slug, server: 'dying' };
    expect((await post(url, call(1, 'echo', { text: 'alive' }), { key: o.key, session })).json).toMatchObject({ result: {} });
    expect(series(await scrape(), 'toolgate_gateway_circuit_breaker_state', labels)).toBe(0);
    await upstream.close();
    let state: number | null = 0;
    for (let i = 2; i <= 12 && state !== 2; i++) {
      const r = await post(url, call(i, 'echo', { text: 'dead?' }), { key: o.key, session });
      expect((r.json as { error?: { code: number } }).error?.code).toBe(-32005);
      state = series(await scrape(), 'toolgate_gateway_circuit_breaker_state', labels);
    }
    expect(state).toBe(2);
  });
});
