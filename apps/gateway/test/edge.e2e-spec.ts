/**
 * The gateway's edge: security headers, security.txt, CORS for configured browser origins (with a
 * real Chromium page calling from another loopback origin), connection caps, and the operator's
 * per-org and per-client-address call limits.
 */
import { createServer, type Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { type Browser, chromium } from 'playwright-core';
import { RpcCode } from '../src/core/jsonrpc';
import { loadGatewayConfig } from '../src/config';
import { createGateway, type Gateway } from '../src/gateway';
import { createKey, createOrg, type Org, openSession, post, sleep } from './fixtures/gw-helpers';
import { type Stack, startStack } from './harness';

jest.setTimeout(60_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A page server on its own loopback port: its origin is `http://127.0.0.1:<port>`. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>agent page</title>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let stack: Stack;
let trusted: Page;
let stranger: Page;
type Page = Awaited<ReturnType<typeof pageServer>>;
const extra: Gateway[] = [];

/** One more gateway worker on the stack's Redis, with settings of its own. */
async function gateway(env: Record<string, string>): Promise<string> {
  const gw = await createGateway(
    loadGatewayConfig({
      ...process.env,
      PORT: '0',
      QUEUE_PREFIX: stack.queuePrefix,
      SPOOL_DIR: path.join(os.tmpdir(), `${stack.queuePrefix}-edge-${extra.length}`),
      PUBLIC_API_URL: stack.apiUrl,
      ...env,
    }),
  );
  extra.push(gw);
  return (await gw.listen()).url;
}

beforeAll(async () => {
  trusted = await pageServer();
  stranger = await pageServer();
  stack = await startStack({
    gatewayEnv: { ALLOWED_ORIGINS: trusted.origin, SECURITY_CONTACT: 'security@toolgate.example,https://toolgate.example/security' },
  });
});
afterAll(async () => {
  for (const g of extra) await g.close();
  await stack?.close();
  trusted?.server.close();
  stranger?.server.close();
});

describe('security headers', () => {
  it('are on every gateway response, with HSTS only over TLS (a trusted proxy saying https)', async () => {
    for (const res of [await fetch(`${stack.gatewayUrl}/healthz`), await fetch(`${stack.gatewayUrl}/mcp/nope`, { method: 'POST' })]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get('strict-transport-security')).toBeNull();
    }
    // The default gateway trusts no proxy: a client claiming https proves nothing.
    const claimed = await fetch(`${stack.gatewayUrl}/healthz`, { headers: { 'X-Forwarded-Proto': 'https' } });
    expect(claimed.headers.get('strict-transport-security')).toBeNull();

    const behindProxy = await gateway({ TRUSTED_PROXIES: '127.0.0.1/32' });
    const viaProxy = await fetch(`${behindProxy}/healthz`, { headers: { 'X-Forwarded-Proto': 'https' } });
    expect(viaProxy.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect((await fetch(`${behindProxy}/healthz`)).headers.get('strict-transport-security')).toBeNull();

    const forced = await gateway({ HSTS: 'on' });
    expect((await fetch(`${forced}/healthz`)).headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });
});

describe('/.well-known/security.txt', () => {
  it('names the configured contacts with an Expires in the future', async () => {
    const res = await fetch(`${stack.gatewayUrl}/.well-known/security.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const body = await res.text();
    expect(body).toContain('Contact: mailto:security@toolgate.example\n');
    expect(body).toContain('Contact: https://toolgate.example/security\n');
    const expires = /^Expires: (.+)$/m.exec(body)![1]!;
    expect(Date.parse(expires)).toBeGreaterThan(Date.now() + 80 * 86_400_000);
    expect(Date.parse(expires)).toBeLessThan(Date.now() + 365 * 86_400_000);
  });

  it('uses SECURITY_TXT_EXPIRES, and answers 404 when no contact is configured', async () => {
    const fixed = await gateway({ SECURITY_CONTACT: 'sec@example.test', SECURITY_TXT_EXPIRES: '2027-06-30T00:00:00Z' });
    expect(await (await fetch(`${fixed}/.well-known/security.txt`)).text()).toContain('Expires: 2027-06-30T00:00:00Z\n');
    const none = await gateway({ SECURITY_CONTACT: '' });
    expect((await fetch(`${none}/.well-known/security.txt`)).status).toBe(404);
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    fetch(`${stack.gatewayUrl}/mcp/any-org`, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type, mcp-session-id, mcp-protocol-version',
      },
    });

  it('answers a configured origin’s preflight 204 with the MCP methods and headers', async () => {
    const res = await preflight(trusted.origin);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(trusted.origin);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE');
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const h of ['authorization', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'])
      expect(allowed).toContain(h);
    const exposed = res.headers.get('access-control-expose-headers')!.toLowerCase();
    expect(exposed).toContain('mcp-session-id');
    expect(exposed).toContain('www-authenticate');
    expect(res.headers.get('vary')).toBe('Origin');
  });

  it('gives an origin that is not configured no CORS headers', async () => {
    const res = await preflight(stranger.origin);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
    const get = await fetch(`${stack.gatewayUrl}/healthz`, { headers: { Origin: stranger.origin } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });

  describe('from a real browser page', () => {
    let browser: Browser;
    let o: Org;
    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
      o = await createOrg(stack);
    });
    afterAll(async () => browser?.close());

    /** In the page: initialize, notifications/initialized, tools/list over fetch, as a browser MCP client does. */
    async function listFrom(origin: string): Promise<{ tools?: string[]; error?: string }> {
      const page = await browser.newPage();
      try {
        await page.goto(origin);
        return await page.evaluate(
          async ({ url, key }) => {
            const headers: Record<string, string> = {
              Authorization: `Bearer ${key}`,
              'Content-Type': 'application/json',
              Accept: 'application/json, text/event-stream',
            };
            const rpc = async (body: unknown) => {
              const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
              const text = await res.text();
              const data = text.startsWith('{')
                ? text
                : (
                    text
                      .split('\n')
                      .filter((l) => l.startsWith('data: '))
                      .pop() ?? ''
                  ).slice(6);
              return { res, message: data ? JSON.parse(data) : null };
            };
            try {
              const init = await rpc({
                jsonrpc: '2.0',
                id: 1,
                method: 'initialize',
                params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'browser', version: '1' } },
              });
              const session = init.res.headers.get('Mcp-Session-Id');
              if (!session) return { error: 'no Mcp-Session-Id visible' };
              headers['Mcp-Session-Id'] = session;
              headers['MCP-Protocol-Version'] = init.message.result.protocolVersion;
              await rpc({ jsonrpc: '2.0', method: 'notifications/initialized' });
              const list = await rpc({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
              return { tools: (list.message.result.tools as { name: string }[]).map((t) => t.name) };
            } catch (e) {
              return { error: String(e) };
            }
          },
          { url: `${stack.gatewayUrl}/mcp/${o.org.slug}`, key: o.key },
        );
      } finally {
        await page.close();
      }
    }

    it('a page of a configured origin initializes and lists tools', async () => {
      const r = await listFrom(trusted.origin);
      expect(r.error).toBeUndefined();
      expect(r.tools).toContain('everything__echo');
    });

    it('a page of an origin that is not configured is blocked by the browser', async () => {
      const r = await listFrom(stranger.origin);
      expect(r.tools).toBeUndefined();
      expect(r.error).toMatch(/Failed to fetch/);
    });
  });
});

describe('connection caps', () => {
  /** A raw connection and the first response to a GET on it. */
  function open(base: string): { socket: Socket; response: () => Promise<string> } {
    const { port } = new URL(base);
    const socket = netConnect(Number(port), '127.0.0.1');
    let data = '';
    socket.on('data', (c) => {
      data += c.toString();
    });
    return {
      socket,
      response: async () => {
        socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        for (let i = 0; i < 200 && !data.includes('\r\n\r\n'); i++) await sleep(10);
        return data;
      },
    };
  }
  const connected = (s: Socket) => new Promise<void>((r) => (s.readyState === 'open' ? r() : s.once('connect', () => r())));

  it('refuses a connection past the per-address cap with 429, and admits one again after a close', async () => {
    const base = await gateway({ GATEWAY_MAX_CONNECTIONS_PER_IP: '2' });
    const held = [open(base), open(base)];
    for (const h of held) await connected(h.socket);
    await sleep(50);
    const third = open(base);
    const refused = await third.response();
    expect(refused).toMatch(/^HTTP\/1\.1 429 /);
    expect(refused).toMatch(/\r\nRetry-After: 1\r\n/i);
    expect(refused).toMatch(/\r\nConnection: close\r\n/i);
    expect(refused).toContain('"too_many_connections"');
    expect((await held[0]!.response()).startsWith('HTTP/1.1 200')).toBe(true);

    held[1]!.socket.destroy();
    await sleep(100);
    const again = open(base);
    expect((await again.response()).startsWith('HTTP/1.1 200')).toBe(true);
    for (const s of [held[0]!, third, again]) s.socket.destroy();
  });

  it('refuses a connection past the worker’s cap with 503', async () => {
    const base = await gateway({ GATEWAY_MAX_CONNECTIONS: '3', GATEWAY_MAX_CONNECTIONS_PER_IP: '0' });
    const held = [open(base), open(base), open(base)];
    for (const h of held) await connected(h.socket);
    await sleep(50);
    const fourth = open(base);
    expect(await fourth.response()).toMatch(/^HTTP\/1\.1 503 /);
    for (const s of [...held, fourth]) s.socket.destroy();
  });

  it('does not count a trusted proxy’s connections per address', async () => {
    const base = await gateway({ GATEWAY_MAX_CONNECTIONS_PER_IP: '1', TRUSTED_PROXIES: '127.0.0.1/32' });
    const held = [open(base), open(base)];
    for (const h of held) await connected(h.socket);
    expect((await held[1]!.response()).startsWith('HTTP/1.1 200')).toBe(true);
    for (const h of held) h.socket.destroy();
  });
});

describe('per-org and per-client-address call limits', () => {
  const echo = (url: string, key: string, session: string, ip: string) =>
    post(
      url,
      {
        jsonrpc: '2.0',
        id: randomBytes(4).toString('hex'),
        method: 'tools/call',
        params: { name: 'everything__echo', arguments: { message: 'hi' } },
      },
      { key, session, headers: { 'X-Forwarded-For': ip } },
    );
  /** A client address no other run used (its bucket is shared by every org, in Redis). */
  const freshIp = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;

  it('an org gets GATEWAY_ORG_CALLS_PER_MINUTE calls whichever key makes them; another org is unaffected', async () => {
    const base = await gateway({ GATEWAY_ORG_CALLS_PER_MINUTE: '3', TRUSTED_PROXIES: '127.0.0.1/32' });
    const a = await createOrg(stack);
    const second = await createKey(a, [a.roleId]);
    const b = await createOrg(stack);
    const urlA = `${base}/mcp/${a.org.slug}`;
    const urlB = `${base}/mcp/${b.org.slug}`;
    const s1 = await openSession(urlA, a.key);
    const s2 = await openSession(urlA, second.key);
    const sb = await openSession(urlB, b.key);
    const ip = freshIp();
    const statuses = [];
    for (const [key, s] of [
      [a.key, s1],
      [second.key, s2],
      [a.key, s1],
    ] as const)
      statuses.push((await echo(urlA, key, s, ip)).json);
    for (const m of statuses) expect((m as { result?: unknown }).result).toBeDefined();

    const refused = await echo(urlA, second.key, s2, ip);
    expect(refused.status).toBe(200);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    const error = (refused.json as { error: { code: number; data: { retryAfterSeconds: number; bucket: string } } }).error;
    expect(error.code).toBe(RpcCode.RateLimited);
    expect(error.data.bucket).toBe('org');
    expect(error.data.retryAfterSeconds).toBeGreaterThanOrEqual(1);

    for (let i = 0; i < 3; i++) expect(((await echo(urlB, b.key, sb, ip)).json as { result?: unknown }).result).toBeDefined();
  });

  it('a client address gets GATEWAY_IP_CALLS_PER_MINUTE calls over every org; another address is unaffected', async () => {
    const base = await gateway({ GATEWAY_IP_CALLS_PER_MINUTE: '4', TRUSTED_PROXIES: '127.0.0.1/32' });
    const a = await createOrg(stack);
    const b = await createOrg(stack);
    const urlA = `${base}/mcp/${a.org.slug}`;
    const urlB = `${base}/mcp/${b.org.slug}`;
    const sa = await openSession(urlA, a.key);
    const sb = await openSession(urlB, b.key);
    const ip = freshIp();
    for (const [url, key, s] of [
      [urlA, a.key, sa],
      [urlB, b.key, sb],
      [urlA, a.key, sa],
      [urlB, b.key, sb],
    ] as const) {
      expect(((await echo(url, key, s, ip)).json as { result?: unknown }).result).toBeDefined();
    }
    const refused = (await echo(urlA, a.key, sa, ip)).json as { error: { code: number; data: { bucket: string } } };
    expect(refused.error.code).toBe(RpcCode.RateLimited);
    expect(refused.error.data.bucket).toBe(`ip:${ip}`);
    expect(((await echo(urlA, a.key, sa, freshIp())).json as { result?: unknown }).result).toBeDefined();
  });
});
