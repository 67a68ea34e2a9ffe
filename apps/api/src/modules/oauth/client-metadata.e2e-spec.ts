import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Api, startApi, uniq } from '../../../test/harness';
import { type Team, team } from '../members/members.fixtures';
import { approve, authorizeRaw, codeOf, endpoint, pkce, REDIRECT, startAuthorization, tokenRequest } from './oauth.test-fixtures';

/**
 * Client ID metadata documents: a client_id that is an https URL names a JSON document the API
 * fetches. The fixture server listens on 127.0.0.1, which only OAUTH_CLIENT_METADATA_ALLOW_HOSTS
 * lets the API reach (plain http included); every other private or loopback target is refused.
 */
describe('OAuth client ID metadata documents', () => {
  let api: Api;
  let strict: Api;
  let t: Team;
  let role: { id: string };
  let server: http.Server;
  let base: string;
  const hits = new Map<string, number>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const path = req.url ?? '/';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const self = `${base}${path}`;
      const json = (body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(200, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (path.startsWith('/good'))
        return json(
          { client_id: self, client_name: 'Doc Agent', client_uri: 'https://agent.example', redirect_uris: [REDIRECT] },
          { 'cache-control': 'max-age=600' },
        );
      if (path === '/redirect.json') {
        res.writeHead(302, { location: `${base}/good-target.json` });
        return res.end();
      }
      if (path === '/big.json') return json({ client_id: self, client_name: 'x'.repeat(6000), redirect_uris: [REDIRECT] });
      if (path === '/mismatch.json') return json({ client_id: `${base}/good.json`, redirect_uris: [REDIRECT] });
      if (path === '/js-redirect.json') return json({ client_id: self, redirect_uris: ['javascript:alert(1)'] });
      if (path === '/secret.json')
        return json({ client_id: self, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_post' });
      if (path === '/html.json') {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html></html>');
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    api = await startApi({ OAUTH_CLIENT_METADATA_ALLOW_HOSTS: '127.0.0.1' });
    strict = await startApi();
    t = await team(api, 'oauth-cimd');
    role = await api.prisma.db.role.create({ data: { orgId: t.org.id, name: uniq('r'), rules: { tools: [] } }, select: { id: true } });
  });
  afterAll(async () => {
    await Promise.all([api.close(), strict.close()]);
    await new Promise((r) => server.close(r));
  });

  /** /authorize with this client_id: the error page text, or the redirect. */
  async function tryClient(clientId: string, on: Api = api) {
    return authorizeRaw(on, {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      state: 's',
    });
  }

  function expectRefused(res: { status: number; headers: Record<string, string>; text: string }, reason: RegExp) {
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toMatch(reason);
  }

  it('fetches, caches and uses a document: consent names it, the token carries the URL as client_id', async () => {
    const clientId = `${base}/good.json`;
    const { verifier, challenge } = pkce();
    const requestId = await startAuthorization(api, clientId, { challenge, resource: endpoint(api, t.org.slug) });
    await startAuthorization(api, clientId, { challenge, resource: endpoint(api, t.org.slug) });
    expect(hits.get('/good.json')).toBe(1);
    const row = await api.prisma.db.oAuthClient.findUniqueOrThrow({ where: { clientId } });
    expect(row.kind).toBe('metadata_document');
    // Cache-Control max-age=600 is honoured.
    expect(Math.round((row.expiresAt!.getTime() - row.fetchedAt!.getTime()) / 1000)).toBe(600);

    const view = await api.req().get(`/v1/oauth/requests/${requestId}`).set(t.owner.auth).expect(200);
    expect(view.body.client).toEqual({
      id: clientId,
      name: 'Doc Agent',
      uri: 'https://agent.example',
      logoUri: null,
      registration: 'metadata-document',
    });
    const { code } = codeOf((await approve(api, t.owner, requestId, t.org.id, [role.id])).body.redirectTo);
    const tok = await tokenRequest(api, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      client_id: clientId,
    });
    expect(tok.status).toBe(200);

    // Expired cache: fetched again.
    await api.prisma.db.oAuthClient.update({ where: { clientId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await startAuthorization(api, clientId, { challenge });
    expect(hits.get('/good.json')).toBe(2);
  });

  it('refuses a redirect_uri the document does not list, without redirecting', async () => {
    const res = await authorizeRaw(api, {
      response_type: 'code',
      client_id: `${base}/good-2.json`,
      redirect_uri: 'https://evil.example/cb',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    });
    expectRefused(res, /redirect_uri/);
  });

  it('does not follow redirects', async () => {
    expectRefused(await tryClient(`${base}/redirect.json`), /redirects are not followed/);
    expect(hits.get('/good-target.json')).toBeUndefined();
  });

  it('refuses an oversize document', async () => {
    expectRefused(await tryClient(`${base}/big.json`), /larger than 5120 bytes/);
  });

  it('refuses a document whose client_id is not its own URL', async () => {
    expectRefused(await tryClient(`${base}/mismatch.json`), /another client_id/);
  });

  it('refuses a document with a javascript: redirect URI, or one asking for a client secret, or not JSON', async () => {
    expectRefused(await tryClient(`${base}/js-redirect.json`), /javascript/);
    expectRefused(await tryClient(`${base}/secret.json`), /token_endpoint_auth_method/);
    expectRefused(await tryClient(`${base}/html.json`), /not application\/json/);
  });

  it('SSRF: loopback is refused when not allowed, also by IP literal', async () => {
    const port = (server.address() as AddressInfo).port;
    expectRefused(await tryClient(`${base}/good-strict.json`, strict), /https/);
    expectRefused(await tryClient(`https://127.0.0.1:${port}/good-strict.json`, strict), /private, loopback or link-local/);
    expect(hits.get('/good-strict.json')).toBeUndefined();
    // A copy cached while the host was allowed is not used once it is not.
    expectRefused(await tryClient(`${base}/good.json`, strict), /https/);
  });

  it('SSRF: metadata, private, IPv6 loopback and mapped addresses, and names resolving to loopback are refused', async () => {
    const port = (server.address() as AddressInfo).port;
    for (const url of [
      'https://169.254.169.254/latest/meta-data',
      'https://10.0.0.1/client.json',
      `https://[::1]:${port}/good.json`,
      `https://[::ffff:127.0.0.1]:${port}/good.json`,
      `https://localhost:${port}/good.json`,
    ]) {
      expectRefused(await tryClient(url), /private, loopback or link-local/);
    }
  });

  it('refuses client_id URLs that are not https or have no path', async () => {
    expectRefused(await tryClient('http://agent.example/client.json'), /https/);
    expectRefused(await tryClient('https://agent.example'), /path/);
    expectRefused(await tryClient('https://user:pw@agent.example/c.json'), /credentials/);
  });
});
