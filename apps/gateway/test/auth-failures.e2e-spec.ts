/**
 * Failed authentications are counted and audited (rate-limited per org and client address, the
 * key's visible prefix only), and behind a trusted proxy the client address (IP allow-lists,
 * audit) comes from X-Forwarded-For, read from the right.
 */
import { loadEnv } from '../../api/src/config/env';
import { startWorker } from '../../api/src/worker';
import { createOrg, type Org, openSession, post, sleep } from './fixtures/gw-helpers';
import { type Stack, startStack } from './harness';

jest.setTimeout(30_000);

const PER_MINUTE = 3;
let stack: Stack;
let worker: Awaited<ReturnType<typeof startWorker>>;

beforeAll(async () => {
  // The test client reaches the gateway over loopback: loopback plays the trusted proxy.
  stack = await startStack({ gatewayEnv: { TRUSTED_PROXIES: '127.0.0.1/32,::1', AUTH_FAILURE_AUDIT_PER_MINUTE: String(PER_MINUTE) } });
  // The real audit consumer of this stack's queue: what the gateway sends must be stored.
  worker = await startWorker(loadEnv({ ...process.env, QUEUE_PREFIX: stack.queuePrefix, AUDIT_BATCH_WAIT_MS: '10' }), { logger: false });
});
afterAll(async () => {
  await worker.close();
  await stack.close();
});

const mcpUrl = (slug: string) => `${stack.gatewayUrl}/mcp/${slug}`;
const list = (o: Org, key: string, ip: string) =>
  post(mcpUrl(o.org.slug), { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { key, headers: { 'X-Forwarded-For': ip } });

type Item = { method: string; target: string | null; decision: string; outcome: string; ip: string | null; keyId: string | null };

/** The org's stored audit records of failed authentications, once `until` holds (or the time is up). */
async function stored(o: Org, until: (items: Item[]) => boolean): Promise<Item[]> {
  let items: Item[] = [];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
    items = (await o.api.call<{ items: Item[] }>('GET', `/v1/orgs/${o.org.slug}/audit?limit=200`)).items.filter(
      (i) => i.method === 'auth/failed',
    );
    if (until(items)) break;
  }
  return items;
}

async function failures(reason: string): Promise<number> {
  const text = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
  return Number(new RegExp(`^toolgate_gateway_auth_failures_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

describe('failed authentications', () => {
  it('are counted, and audited as auth/failed with the key prefix and the client address, never the key', async () => {
    const o = await createOrg(stack);
    const wrongKey = `tg_Wr0ngKey${'x'.repeat(32)}`;
    const before = { invalid: await failures('invalid'), missing: await failures('missing') };

    const res = await list(o, wrongKey, '198.51.100.7');
    expect(res.status).toBe(401);
    const noKey = await post(mcpUrl(o.org.slug), { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(noKey.status).toBe(401);

    expect(await failures('invalid')).toBe(before.invalid + 1);
    expect(await failures('missing')).toBe(before.missing + 1);

    const items = await stored(o, (i) => i.length >= 1);
    // A request without a key (how clients discover the authorization server) is counted, not audited.
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      method: 'auth/failed',
      target: 'tg_Wr0ngKey',
      decision: 'unauthenticated',
      outcome: 'denied',
      ip: '198.51.100.7',
      keyId: null,
    });
    const headers = { Authorization: `Bearer ${o.api.token}` };
    const exported = await (await fetch(`${stack.apiUrl}/v1/orgs/${o.org.slug}/audit/export`, { headers })).text();
    expect(exported).not.toContain(wrongKey);
  });

  it('are audited at most N a minute per org and address: a flood cannot fill the chain', async () => {
    const o = await createOrg(stack);
    const wrongKey = `tg_Flooding${'y'.repeat(32)}`;
    for (let i = 0; i < 20; i++) expect((await list(o, wrongKey, '198.51.100.20')).status).toBe(401);
    expect((await list(o, wrongKey, '198.51.100.21')).status).toBe(401);

    const items = await stored(o, (i) => i.length >= PER_MINUTE + 1);
    await sleep(300); // nothing more arrives
    const again = await stored(o, () => true);
    expect(again).toHaveLength(items.length);
    expect(items.filter((i) => i.ip === '198.51.100.20')).toHaveLength(PER_MINUTE);
    expect(items.filter((i) => i.ip === '198.51.100.21')).toHaveLength(1);
  });
});

describe('behind a trusted proxy', () => {
  it('an IP allow-list sees the client named by X-Forwarded-For (rightmost untrusted hop), not the proxy', async () => {
    const o = await createOrg(stack, {
      rules: { tools: [{ effect: 'allow', match: '*' }], ipAllow: ['198.51.100.0/24'] },
      roleName: 'office',
    });
    const session = await openSession(mcpUrl(o.org.slug), o.key);
    const call = (xff?: string) =>
      post(
        mcpUrl(o.org.slug),
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'hi' } } },
        { key: o.key, session, headers: xff ? { 'X-Forwarded-For': xff } : {} },
      );

    const inside = await call('198.51.100.7');
    expect(inside.json.result).toBeDefined();

    const outside = await call('203.0.113.5');
    expect(outside.json.error).toMatchObject({ code: -32003 });
    expect(outside.json.error.message).toContain('203.0.113.5');

    // A client that writes an allowed address itself is named by the proxy's hop to its right.
    const spoofed = await call('198.51.100.7, 203.0.113.5');
    expect(spoofed.json.error).toMatchObject({ code: -32003 });

    // No header: the proxy itself (loopback) is the client, and it is not allowed.
    expect((await call()).json.error).toMatchObject({ code: -32003 });
  });
});
