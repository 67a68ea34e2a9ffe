/**
 * Issue 17's end-to-end evidence: real OAuth clients against the real stack (API as
 * authorization server, gateway as resource server, dashboard consent in Chromium).
 *
 * - the official conformance suite's authorization-server scenarios (0.2.0-alpha.12, under the
 *   alias @modelcontextprotocol/conformance-auth; it needs Node 22, from @toolgate/node22);
 * - the SDK client's OAuthClientProvider, in process;
 * - mcp-remote 0.15.1 as a stdio child, the way desktop hosts run it;
 * - revocation on the Connected apps page and refresh-token reuse, both timed at the gateway;
 * - a wrong `tg_` key, with what each client then does.
 *
 * No real browser may open for the CLIs: BROWSER=true makes xdg-open report success without
 * running anything (there is no DISPLAY, so it goes straight to $BROWSER), and each URL they
 * print is driven through Playwright's Chromium instead.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Stream } from 'node:stream';
// Type only: the web app has no runtime dependency on contracts.
import type { OAuthGrantView } from '../../../packages/contracts/src/oauth';
import type { Browser, BrowserContext } from 'playwright-core';
import type { OAuthClientProvider } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/auth.js';
import { UnauthorizedError } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/auth.js';
import { Client } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/index.js';
import { StdioClientTransport } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/stdio.js';
import { InvalidGrantError } from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/server/auth/errors.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '../../api/node_modules/@modelcontextprotocol/sdk/dist/cjs/shared/auth.js';
import { ApiUser, connectAgent, EVERYTHING, eventually, loginAs, PASSWORD } from './api';
import { launchWith, newContext, shot } from './browser';
import { callbackServer } from './oauth-callback';
import { type FullStack, freePort, startFullStack } from './stack';

jest.setTimeout(120_000);

const CONFORMANCE_CLI = require.resolve('@modelcontextprotocol/conformance-auth/dist/index.js');
const MCP_REMOTE = path.join(path.dirname(require.resolve('mcp-remote/package.json')), 'dist/proxy.js');
const NODE22: string | null =
  Number(process.versions.node.split('.')[0]) >= 22
    ? process.execPath
    : (require('@toolgate/node22') as { nodeBinary: string | null }).nodeBinary;
/** The gateway's JSON-RPC code for a call the caller's roles refuse. */
const DENIED = -32003;
/** Issue 17: revoking a grant refuses its tokens within a second, as for keys. */
const REVOCATION_MS = 1000;
const WRONG_KEY = `tg_wrong${'x'.repeat(35)}`;

const HOME = mkdtempSync(path.join(tmpdir(), 'tg-oauth-clients-home-'));
/** For the CLIs: a private HOME (mcp-remote keeps tokens under ~/.mcp-auth), no display, a browser that does nothing. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOME,
    BROWSER: 'true',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  return { ...env, ...extra };
}
const children = new Set<ChildProcess>();

/** The SDK's OAuthClientProvider, held in memory: the authorization URL is handed to the test instead of a browser. */
class MemoryProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  lastState = '';
  authUrls: URL[] = [];
  constructor(readonly redirect: string) {}
  get redirectUrl() {
    return this.redirect;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK OAuth e2e',
      redirect_uris: [this.redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.lastState = Math.random().toString(36).slice(2);
    return this.lastState;
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authUrls.push(url);
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

interface Rpc {
  status: number;
  session: string | null;
  wwwAuthenticate: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: JSON-RPC payloads; each check knows what it expects.
  json: any;
}

/** One JSON-RPC POST to the gateway with a bearer credential; an SSE answer is reduced to its last message. */
async function rpc(url: string, bearer: string, body: unknown, session?: string | null): Promise<Rpc> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${bearer}`,
      ...(session ? { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '2025-11-25' } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const data = text
      .split(/\n\n/)
      .map((b) =>
        b
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n'),
      )
      .filter(Boolean);
    json = data.length ? JSON.parse(data[data.length - 1]!) : null;
  } else if (text) json = JSON.parse(text);
  return { status: res.status, session: res.headers.get('mcp-session-id'), wwwAuthenticate: res.headers.get('www-authenticate'), json };
}

async function openSession(url: string, bearer: string): Promise<string> {
  const init = await rpc(url, bearer, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'oauth-clients-e2e', version: '1' } },
  });
  if (init.status !== 200 || !init.session) throw new Error(`initialize → ${init.status}: ${JSON.stringify(init.json)}`);
  await rpc(url, bearer, { jsonrpc: '2.0', method: 'notifications/initialized' }, init.session);
  return init.session;
}

const echo = (url: string, bearer: string, session: string, message: string) =>
  rpc(url, bearer, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'everything__echo', arguments: { message } } }, session);

/**
 * Calls `attempt` back to back until it is refused; answers how long after `since` the first
 * refused attempt was sent (the revocation had reached the gateway by then).
 */
async function timeToRefusal(since: number, attempt: () => Promise<boolean>, maxMs = 10_000): Promise<number> {
  for (;;) {
    const sent = performance.now();
    if (!(await attempt())) return Math.max(0, sent - since);
    if (sent - since > maxMs) throw new Error(`still accepted ${maxMs} ms after revocation`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Lines a child prints, and a way to wait for one that matches. */
function watchOutput(...streams: Stream[]): { text: () => string; waitFor: (re: RegExp, ms: number) => Promise<RegExpExecArray> } {
  let text = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  for (const stream of streams)
    stream.on('data', (d: Buffer) => {
      text += d.toString();
      for (const w of [...waiters]) {
        const m = w.re.exec(text);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
  return {
    text: () => text,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        const m = re.exec(text);
        if (m) return resolve(m);
        const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms in:\n${text}`)), ms);
        waiters.push({
          re,
          resolve: (found) => {
            clearTimeout(timer);
            resolve(found);
          },
        });
      }),
  };
}

/** Every checks.json under `dir` (the suite writes one folder per scenario). */
function readChecks(dir: string): { id: string; status: string; errorMessage?: string }[] {
  const out: { id: string; status: string; errorMessage?: string }[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...readChecks(p));
    else if (name === 'checks.json') out.push(...JSON.parse(readFileSync(p, 'utf8')));
  }
  return out;
}

describe('OAuth clients end to end (conformance suite, SDK provider, mcp-remote)', () => {
  let stack: FullStack;
  let browser: Browser;
  let owner: ApiUser;
  let slug: string;
  let endpoint: string;
  let ownerCtx: BrowserContext;

  /**
   * The consent step as a person does it: open the authorization URL (the API redirects to the
   * dashboard), grant only `role` in the org the resource names, approve; answers where the
   * browser was sent back.
   */
  async function consent(
    ctx: BrowserContext,
    authorizationUrl: string,
    role: 'narrow' | 'broad',
    back: (u: URL) => boolean,
    login = false,
  ) {
    const page = await ctx.newPage();
    try {
      await page.goto(authorizationUrl);
      if (login) {
        await page.waitForURL((u) => u.pathname === '/login');
        await page.getByLabel('Email').fill(owner.email);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Log in' }).click();
      }
      await page.getByTestId('consent').waitFor();
      expect(await page.getByTestId('resource').textContent()).toBe(endpoint);
      const other = role === 'narrow' ? 'broad' : 'narrow';
      await page.getByRole('checkbox', { name: new RegExp(`^${role}`) }).check();
      await page.getByRole('checkbox', { name: new RegExp(`^${other}`) }).uncheck();
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL(back);
      return new URL(page.url());
    } catch (e) {
      await shot(page, `oauth-clients-failed-${Date.now()}`).catch(() => undefined);
      throw e;
    } finally {
      await page.close();
    }
  }

  beforeAll(async () => {
    [stack, browser] = await launchWith(startFullStack(), (s) => s.close());
    owner = await ApiUser.signup(stack.apiUrl, 'Owner');
    slug = (await owner.createOrg('OAuth Clients')).slug;
    endpoint = `${stack.gatewayUrl}/mcp/${slug}`;
    const server = await owner.call('POST', `/v1/orgs/${slug}/servers`, {
      slug: 'everything',
      name: 'Everything',
      transport: 'stdio',
      command: process.execPath,
      args: [EVERYTHING, 'stdio'],
    });
    await owner.probe(slug, server.id);
    await owner.call('POST', `/v1/orgs/${slug}/roles`, {
      name: 'narrow',
      description: 'echo only',
      rules: { tools: [{ effect: 'allow', match: 'everything__echo' }] },
    });
    await owner.call('POST', `/v1/orgs/${slug}/roles`, { name: 'broad', rules: { tools: [{ effect: 'allow', match: '*' }] } });
    ownerCtx = await newContext(browser, stack.webUrl);
    await loginAs(ownerCtx, owner);
  }, 180_000);

  afterAll(async () => {
    // Closing the stdio client ends its mcp-remote child, should a test have stopped half way.
    await remote?.client.close().catch(() => undefined);
    await sdk?.client.close().catch(() => undefined);
    for (const c of children) c.kill('SIGKILL');
    await ownerCtx?.close();
    await browser?.close();
    await stack?.close();
    rmSync(HOME, { recursive: true, force: true });
  });

  it('a. the conformance suite’s authorization-server scenarios pass against the API, consent given in Chromium', async () => {
    expect(NODE22).toBeTruthy();
    const port = await freePort();
    const redirect = `http://127.0.0.1:${port}/callback`;
    const reg = await fetch(`${stack.apiUrl}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'MCP conformance suite', redirect_uris: [redirect], token_endpoint_auth_method: 'none' }),
    });
    expect(reg.status).toBe(201);
    const { client_id } = (await reg.json()) as { client_id: string };
    const outDir = mkdtempSync(path.join(tmpdir(), 'tg-conformance-auth-'));
    const args = [
      'authorization',
      '--url',
      stack.apiUrl,
      '--client-id',
      client_id,
      '--resource',
      endpoint,
      '--port',
      String(port),
      '-o',
      outDir,
    ];
    const child = spawn(NODE22!, [CONFORMANCE_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    children.add(child);
    const out = watchOutput(child.stdout!, child.stderr!);
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    try {
      // It prints the authorization request and waits for the browser at its callback.
      const [, url] = await out.waitFor(/complete the authentication process\.\s*\n(\S+)\n/, 30_000);
      expect(url!.startsWith(`${stack.apiUrl}/authorize?`)).toBe(true);
      const back = await consent(ownerCtx, url!, 'narrow', (u) => u.port === String(port));
      expect(back.searchParams.get('code')).toBeTruthy();
      const code = await exited;
      const checks = readChecks(outDir);
      const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
      expect({ code, output: code === 0 ? '' : out.text() }).toEqual({ code: 0, output: '' });
      expect(byId['authorization-server-metadata']).toMatchObject({ status: 'SUCCESS' });
      expect(byId['authorization-server-metadata-cimd']).toMatchObject({ status: 'SUCCESS' });
      expect(byId['authorization-code-grant']).toMatchObject({ status: 'SUCCESS' });
      expect(checks.filter((c) => c.status !== 'SUCCESS')).toEqual([]);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
      children.delete(child);
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  let sdk: { client: Client; provider: MemoryProvider; transport: StreamableHTTPClientTransport };

  it('b. the SDK client’s OAuth provider signs in through the dashboard; it lists and calls only what the granted role allows, audited as the app and the person', async () => {
    const cb = await callbackServer();
    try {
      const provider = new MemoryProvider(cb.url);
      const first = new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: provider });
      // No token yet: the 401 sends the SDK through discovery, registration and /authorize.
      await expect(new Client({ name: 'sdk-oauth-e2e', version: '1.0.0' }).connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
      expect(provider.authUrls).toHaveLength(1);
      const authUrl = provider.authUrls[0]!;
      expect(authUrl.origin).toBe(stack.apiUrl);
      expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authUrl.searchParams.get('resource')).toBe(endpoint);

      // A fresh browser: the consent page sends the person to log in and back.
      const ctx = await newContext(browser, stack.webUrl);
      try {
        await consent(ctx, authUrl.toString(), 'narrow', (u) => u.href.startsWith(cb.url), true);
      } finally {
        await ctx.close();
      }
      expect(cb.hits).toHaveLength(1);
      expect(cb.hits[0]!.get('state')).toBe(provider.lastState);
      await first.finishAuth(cb.hits[0]!.get('code')!);
      expect(provider.saved).toMatchObject({
        token_type: expect.stringMatching(/^bearer$/i),
        refresh_token: expect.stringMatching(/^tgr_/),
      });

      const transport = new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: provider });
      const client = new Client({ name: 'sdk-oauth-e2e', version: '1.0.0' });
      await client.connect(transport);
      sdk = { client, provider, transport };
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(['everything__echo']);
      expect(await client.callTool({ name: 'everything__echo', arguments: { message: 'via oauth' } })).toMatchObject({
        content: [{ type: 'text', text: 'Echo: via oauth' }],
      });
      await expect(client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } })).rejects.toMatchObject({ code: DENIED });

      // The audit names the app and the person who consented; the grant stands where a key would.
      const grants = (await owner.call('GET', `/v1/orgs/${slug}/oauth/grants`)) as OAuthGrantView[];
      const grant = grants.find((g) => g.client.name === 'SDK OAuth e2e')!;
      expect(grant).toMatchObject({ resource: endpoint, roles: [{ name: 'narrow' }], consentedBy: { email: owner.email } });
      type Item = { method: string; serverSlug: string | null; target: string | null; outcome: string; oauth: unknown };
      const items = await eventually(
        async () => ((await owner.call('GET', `/v1/orgs/${slug}/audit?keyId=${grant.id}&limit=100`)) as { items: Item[] }).items,
        (list) => list.filter((i) => i.method === 'tools/call').length >= 2,
      );
      const oauth = { clientId: grant.client.id, clientName: 'SDK OAuth e2e', userEmail: owner.email };
      expect(items.find((i) => i.method === 'tools/call' && i.outcome === 'ok')).toMatchObject({
        serverSlug: 'everything',
        target: 'echo',
        oauth,
      });
      expect(items.find((i) => i.method === 'tools/call' && i.outcome === 'denied')).toMatchObject({
        serverSlug: 'everything',
        target: 'get-sum',
        oauth,
      });
    } finally {
      await cb.close();
    }
  });

  let remote: { client: Client; configDir: string; stderr: () => string };

  it('c. mcp-remote as a stdio child completes the flow (its printed URL approved in Chromium), then lists and calls through stdio', async () => {
    const port = await freePort();
    const configDir = mkdtempSync(path.join(HOME, 'mcp-remote-'));
    const transport = new StdioClientTransport({
      command: process.execPath,
      // The callback port as its second argument; the flow must finish within the auth timeout.
      args: [MCP_REMOTE, endpoint, String(port), '--transport', 'http-only', '--auth-timeout', '60'],
      env: childEnv({ MCP_REMOTE_CONFIG_DIR: configDir }),
      stderr: 'pipe',
    });
    const err = watchOutput(transport.stderr!);
    const client = new Client({ name: 'desktop-host', version: '1.0.0' });
    // mcp-remote finishes the sign-in before it reads stdio, so the host's initialize waits for the consent.
    const connected = client.connect(transport, { timeout: 90_000 });
    connected.catch(() => undefined);
    const [, url] = await err.waitFor(/Please authorize this client by visiting:\s*\n(\S+)/, 30_000);
    const authUrl = new URL(url!);
    expect(authUrl.origin).toBe(stack.apiUrl);
    expect(authUrl.searchParams.get('redirect_uri')).toBe(`http://localhost:${port}/oauth/callback`);
    const back = await consent(ownerCtx, url!, 'narrow', (u) => u.port === String(port));
    expect(back.searchParams.get('code')).toBeTruthy();
    try {
      await connected;
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${err.text()}`);
    }
    remote = { client, configDir, stderr: err.text };
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['everything__echo']);
    expect(await client.callTool({ name: 'everything__echo', arguments: { message: 'via mcp-remote' } })).toMatchObject({
      content: [{ type: 'text', text: 'Echo: via mcp-remote' }],
    });
    await expect(client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } })).rejects.toMatchObject({ code: DENIED });
  });

  it('e. a refresh token reused after rotation revokes its family: the rotated access token is refused at the gateway within 1 s', async () => {
    // mcp-remote's stored tokens: `<config dir>/mcp-remote-v1/<server hash>_tokens.json`, its client beside them.
    const dir = path.join(remote.configDir, 'mcp-remote-v1');
    const file = readdirSync(dir).find((f) => f.endsWith('_tokens.json'));
    expect(file).toBeTruthy();
    const stored = JSON.parse(readFileSync(path.join(dir, file!), 'utf8')) as OAuthTokens;
    const clientInfo = JSON.parse(readFileSync(path.join(dir, file!.replace('_tokens.json', '_client_info.json')), 'utf8')) as {
      client_id: string;
    };
    const refresh = (refreshToken: string) =>
      fetch(`${stack.apiUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: clientInfo.client_id,
          resource: endpoint,
        }),
      });
    const rotated = await refresh(stored.refresh_token!);
    expect(rotated.status).toBe(200);
    const next = (await rotated.json()) as OAuthTokens;
    expect(next.refresh_token).not.toBe(stored.refresh_token);
    const session = await openSession(endpoint, next.access_token);
    expect((await echo(endpoint, next.access_token, session, 'rotated')).json.result.content[0].text).toBe('Echo: rotated');

    // The old refresh token again: refused, and the whole family with it.
    // Timed from sending the reuse: the API revokes the family and republishes before it answers.
    const since = performance.now();
    const reused = await refresh(stored.refresh_token!);
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });
    const ms = await timeToRefusal(since, async () => (await echo(endpoint, next.access_token, session, 'x')).status === 200);
    console.log(`refresh reuse: the rotated access token refused at the gateway ${ms.toFixed(0)} ms after the reuse was sent`);
    expect(ms).toBeLessThan(REVOCATION_MS);
    const refused = await echo(endpoint, next.access_token, session, 'x');
    expect(refused.status).toBe(401);
    expect(refused.wwwAuthenticate).toContain('error="invalid_token"');
    expect((await refresh(next.refresh_token!)).status).toBe(400);

    // mcp-remote's own token was of that family too. It takes the gateway's 401 on its next call
    // as a cue to sign in again (its refresh token is refused), prints a new authorization URL and
    // waits: the host's call runs into its own timeout rather than an error naming the revocation.
    const before = remote.stderr().split('Please authorize this client by visiting:').length;
    await expect(
      remote.client.callTool({ name: 'everything__echo', arguments: { message: 'x' } }, undefined, { timeout: 4_000 }),
    ).rejects.toThrow('Request timed out');
    expect(remote.stderr().split('Please authorize this client by visiting:').length).toBe(before + 1);
    await remote.client.close();
  });

  it('d. revoking the grant on Connected apps refuses the SDK client’s next call within 1 s', async () => {
    const page = await ownerCtx.newPage();
    await page.goto(`/o/${slug}/apps`);
    const row = page.getByTestId('grant-row').filter({ hasText: 'SDK OAuth e2e' });
    await row.getByRole('link', { name: 'narrow' }).waitFor();
    // Still working right before.
    await sdk.client.callTool({ name: 'everything__echo', arguments: { message: 'before' } });
    await row.getByRole('button', { name: 'Revoke' }).click();
    const deleted = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/oauth/grants/'));
    const clicked = performance.now();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke access' }).click();
    expect((await deleted).status()).toBe(204);
    const answered = performance.now();
    let refusal: unknown;
    const ms = await timeToRefusal(answered, async () => {
      try {
        await sdk.client.callTool({ name: 'everything__echo', arguments: { message: 'after' } });
        return true;
      } catch (e) {
        refusal = e;
        return false;
      }
    });
    console.log(
      `Connected apps revoke: the SDK client's next call refused ${ms.toFixed(0)} ms after the API's answer reached the page (${(answered - clicked + ms).toFixed(0)} ms after the confirm click)`,
    );
    expect(ms).toBeLessThan(REVOCATION_MS);
    // The SDK answers the gateway's 401 with its refresh token; the API refuses it with the reason,
    // and that is what the app sees. It does not start a new authorization on its own.
    expect(refusal).toBeInstanceOf(InvalidGrantError);
    expect((refusal as Error).message).toBe('The grant was revoked');
    expect(sdk.provider.authUrls).toHaveLength(1);
    await row.waitFor({ state: 'detached' });
    await shot(page, 'oauth-clients-revoked');
    await page.close();
    await sdk.client.close();
  });

  it('f. a wrong tg_ key: the gateway says invalid_token; the SDK without a provider reports it; what the SDK with a provider and mcp-remote do', async () => {
    const raw = await rpc(endpoint, WRONG_KEY, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    });
    expect(raw.status).toBe(401);
    expect(raw.wwwAuthenticate).toMatch(
      /^Bearer resource_metadata="[^"]+", scope="mcp", error="invalid_token", error_description="The agent key is invalid or revoked"$/,
    );
    expect(raw.json.error.message).toBe('The agent key is invalid or revoked');

    // The SDK with the key as a header (how agents are configured): the 401 and the gateway's message, at once.
    const started = performance.now();
    const e = await connectAgent(stack.gatewayUrl, slug, WRONG_KEY, 'wrong-key').then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(StreamableHTTPError);
    expect(e).toMatchObject({ code: 401, message: expect.stringContaining('The agent key is invalid or revoked') });
    expect(performance.now() - started).toBeLessThan(5_000);

    // The SDK with an OAuth provider as well: it does not read error="invalid_token" and starts an
    // authorization (discovery, registration, redirectToAuthorization), then rejects with UnauthorizedError.
    const provider = new MemoryProvider('http://127.0.0.1:9/callback');
    const withProvider = new StreamableHTTPClientTransport(new URL(endpoint), {
      authProvider: provider,
      requestInit: { headers: { Authorization: `Bearer ${WRONG_KEY}` } },
    });
    await expect(new Client({ name: 'wrong-key-provider', version: '1' }).connect(withProvider)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.authUrls).toHaveLength(1);
    expect(provider.info?.client_id).toBeTruthy();

    // mcp-remote with the key as a header: it too ignores invalid_token. It registers a client,
    // prints an authorization URL, "opens the browser" and waits for the callback with no end:
    // --auth-timeout only bounds the long poll of sibling instances. The host's initialize times
    // out; the gateway's reason appears nowhere. Nothing spec-conform at the gateway changes
    // that: an invalid credential must be a 401 (RFC 6750 §3.1), and mcp-remote starts a sign-in
    // on every 401 whatever its error code.
    const port = await freePort();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        MCP_REMOTE,
        endpoint,
        String(port),
        '--header',
        `Authorization:Bearer ${WRONG_KEY}`,
        '--transport',
        'http-only',
        '--auth-timeout',
        '2',
      ],
      env: childEnv({ MCP_REMOTE_CONFIG_DIR: mkdtempSync(path.join(HOME, 'mcp-remote-')) }),
      stderr: 'pipe',
    });
    const err = watchOutput(transport.stderr!);
    const host = new Client({ name: 'desktop-host', version: '1' });
    try {
      const connecting = host.connect(transport, { timeout: 20_000 }).then(
        () => null,
        (x: unknown) => x as Error,
      );
      const [, url] = await err.waitFor(/Please authorize this client by visiting:\s*\n(\S+)/, 8_000);
      await err.waitFor(/Authentication required\. Waiting for authorization\.\.\./, 8_000);
      // Well past --auth-timeout (2 s): still alive, still waiting.
      await new Promise((r) => setTimeout(r, 4_000));
      expect(() => process.kill(transport.pid!, 0)).not.toThrow();
      expect(err.text()).not.toContain('Fatal error');
      // A person who approves the tab it opened gains nothing: mcp-remote keeps sending the
      // --header key over its new token, takes the 401 for a rejected token, discards it and
      // starts another sign-in (the approved grant stays behind, unused).
      await consent(ownerCtx, url!, 'narrow', (u) => u.port === String(port));
      await err.waitFor(/The server rejected a token it had just issued - discarding it and signing in again/, 10_000);
      await err.waitFor(/Please authorize this client by visiting:[\s\S]*Please authorize this client by visiting:/, 10_000);
      expect((await connecting)?.message).toBe('MCP error -32001: Request timed out');
      expect(err.text()).not.toContain('The agent key is invalid or revoked');
    } finally {
      await host.close();
    }
  });
});
