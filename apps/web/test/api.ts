import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
// The web app has no MCP dependency of its own: use the SDK (and server-everything) the API installs.
import { Client } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/index.js';
import { StreamableHTTPClientTransport } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/streamableHttp.js';
import { uniq } from './stack';

export const PASSWORD = 'correct horse battery';

/** server-everything's stdio entry point (installed for the API's tests). */
export const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js', {
  paths: [path.resolve(__dirname, '../../api')],
});

export const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** An agent: the MCP SDK's Client connected to the org's gateway endpoint with an agent key. */
export async function connectAgent(gatewayUrl: string, slug: string, key: string, name: string, version = '1.0.0'): Promise<Client> {
  const client = new Client({ name, version }, { capabilities: {} });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${gatewayUrl}/mcp/${slug}`), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    }),
  );
  return client;
}

/** Polls `read` until `ok` accepts its value (the API, worker and gateway catch up asynchronously). */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = await read();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    last = await read();
  }
  return last;
}

/** A person talking to the API directly: sets up what a test is not about. */
export class ApiUser {
  token = '';
  refreshToken = '';
  email = '';
  constructor(readonly base: string) {}

  // biome-ignore lint/suspicious/noExplicitAny: test client; each test knows the shape it asked for.
  async call<T = any>(method: string, p: string, body?: unknown, expect = [200, 201, 204]): Promise<T> {
    const res = await fetch(`${this.base}${p}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!expect.includes(res.status)) throw new Error(`${method} ${p} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  static async signup(base: string, name = 'Tester'): Promise<ApiUser> {
    const u = new ApiUser(base);
    u.email = `${uniq(name.toLowerCase().replace(/\W+/g, ''))}@example.test`;
    const r = await u.call('POST', '/v1/auth/signup', { email: u.email, password: PASSWORD, name });
    u.token = r.accessToken;
    u.refreshToken = r.refreshToken;
    return u;
  }

  /** Logs in through the API as someone who already has an account (signed up in the browser, say). */
  static async login(base: string, email: string, password = PASSWORD): Promise<ApiUser> {
    const u = new ApiUser(base);
    u.email = email;
    const r = await u.call('POST', '/v1/auth/login', { email, password });
    u.token = r.accessToken;
    u.refreshToken = r.refreshToken;
    return u;
  }

  /**
   * Probes a server as a test's setup. On a box busy with other suites a sandboxed server's first
   * start can outlast the probe's 20 s; a probe that timed out is asked once more, a refusal is not.
   */
  async probe(org: string, serverId: string): Promise<void> {
    const p = `/v1/orgs/${org}/servers/${serverId}/probe`;
    try {
      await this.call('POST', p, {});
    } catch (e) {
      if (!/→ 502: .*timed out/.test((e as Error).message)) throw e;
      await this.call('POST', p, {});
    }
  }

  async createOrg(name = 'Acme'): Promise<{ id: string; slug: string; name: string }> {
    return this.call('POST', '/v1/orgs', { name, slug: uniq(name.toLowerCase().replace(/\W+/g, '-')) });
  }

  /** A new person who joins `org` with `role` through a real invitation. */
  async addMember(org: string, role: 'owner' | 'admin' | 'member' | 'billing', name: string = role): Promise<ApiUser> {
    const other = await ApiUser.signup(this.base, name);
    const inv = await this.call('POST', `/v1/orgs/${org}/invitations`, { email: other.email, role });
    await other.call('POST', `/v1/invitations/${inv.token}/accept`, {});
    return other;
  }
}

/** Logs `user` into the dashboard in `ctx` through the real login form. */
export async function loginAs(ctx: BrowserContext, user: ApiUser): Promise<void> {
  const page = await ctx.newPage();
  await page.goto('/login');
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  await page.close();
}
