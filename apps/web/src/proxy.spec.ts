import { NextRequest } from 'next/server';
import { fakeAuthApi, jwtExpiringIn } from '../test/fake-auth-api';
import { proxy } from './proxy';

const WEB = 'http://127.0.0.1:3000';
let n = 0;
const refreshToken = () => `tgr_proxy_spec_${++n}_${Date.now()}`;

function request(path: string, cookies: Record<string, string> = {}) {
  const cookie = Object.entries(cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
  return new NextRequest(`${WEB}${path}`, { headers: cookie ? { cookie } : {} });
}

/** What the proxy told Next: pass on (with these request headers) or answer itself. */
function outcome(res: Response) {
  const set = res.headers.getSetCookie();
  return {
    status: res.status,
    passedOn: res.headers.get('x-middleware-next') === '1',
    location: res.headers.get('location'),
    requestCookie: res.headers.get('x-middleware-request-cookie'),
    requestPath: res.headers.get('x-middleware-request-x-tg-path'),
    cleared: set.some((c) => /^tg_rt=;/.test(c) && /Max-Age=0/i.test(c)),
    setCookies: set,
  };
}

describe('proxy (session refresh before every page and BFF call)', () => {
  const api = fakeAuthApi();
  beforeAll(() => api.start());
  afterAll(() => api.close());
  afterEach(() => {
    delete process.env.TOOLGATE_API_TIMEOUT_MS;
  });

  it('passes a live session on without asking the API, with the path for the org layout', async () => {
    const before = api.received().length;
    const o = outcome(await proxy(request('/o/acme/members?x=1', { tg_at: jwtExpiringIn(600), tg_rt: refreshToken() })));
    expect(o).toMatchObject({ status: 200, passedOn: true, requestPath: '/o/acme/members?x=1', cleared: false });
    expect(api.received()).toHaveLength(before);
  });

  it('refreshes a (nearly) expired session and hands the new tokens to the page and the browser', async () => {
    const rt = refreshToken();
    api.answers.push(200);
    const o = outcome(await proxy(request('/o/acme/keys', { tg_at: jwtExpiringIn(10), tg_rt: rt })));
    expect(api.received().at(-1)).toBe(rt);
    expect(o).toMatchObject({ status: 200, passedOn: true });
    expect(o.requestCookie).toMatch(/tg_at=at\d+/);
    expect(o.requestCookie).toMatch(/tg_rt=rt\d+/);
    expect(o.setCookies.some((c) => /^tg_at=at\d+;/.test(c) && /HttpOnly/i.test(c))).toBe(true);
    expect(o.setCookies.some((c) => /^tg_rt=rt\d+;/.test(c) && /HttpOnly/i.test(c))).toBe(true);
  });

  it('sends a dead session to login with the notice and a way back, and drops its cookies', async () => {
    api.answers.push(401);
    const o = outcome(await proxy(request('/o/acme/members', { tg_at: 'garbage.not-a.jwt', tg_rt: refreshToken() })));
    expect(o.status).toBe(307);
    const to = new URL(o.location!);
    expect(to.pathname).toBe('/login');
    expect(Object.fromEntries(to.searchParams)).toEqual({ next: '/o/acme/members', expired: '1' });
    expect(o.cleared).toBe(true);

    api.answers.push(401);
    const bff = await proxy(request('/api/v1/orgs', { tg_rt: refreshToken() }));
    expect(bff.status).toBe(401);
    expect(await bff.json()).toMatchObject({ code: 'unauthenticated', status: 401 });
    expect(outcome(bff).cleared).toBe(true);
  });

  it('sends someone without a session to login (no notice), and lets public pages through', async () => {
    const o = outcome(await proxy(request('/o/acme/audit')));
    expect(o.status).toBe(307);
    expect(Object.fromEntries(new URL(o.location!).searchParams)).toEqual({ next: '/o/acme/audit' });
    expect(outcome(await proxy(request('/login')))).toMatchObject({ status: 200, passedOn: true });
  });

  it.each([
    ['answers 503', 503 as const],
    ['drops the connection', 'drop' as const],
    ['does not answer in time', 'hang' as const],
  ])(
    'keeps the session when the API %s: the page shows the outage, the BFF answers 503, the next request retries',
    async (_name, answer) => {
      process.env.TOOLGATE_API_TIMEOUT_MS = '300';
      const rt = refreshToken();
      const cookies = { tg_at: jwtExpiringIn(-60), tg_rt: rt };
      api.answers.push(answer, answer);
      const page = outcome(await proxy(request('/o/acme/members', cookies)));
      expect(page).toMatchObject({ status: 200, passedOn: true, cleared: false, setCookies: [] });

      const bff = await proxy(request('/api/v1/orgs/acme/keys', cookies));
      expect(bff.status).toBe(503);
      expect(bff.headers.get('content-type')).toBe('application/problem+json');
      expect(await bff.json()).toMatchObject({ code: 'api_unavailable', status: 503 });
      expect(outcome(bff).cleared).toBe(false);

      // The API is back: the same cookies refresh.
      api.answers.push(200);
      expect(outcome(await proxy(request('/o/acme/members', cookies))).requestCookie).toMatch(/tg_rt=rt\d+/);
      expect(api.received().filter((r) => r === rt)).toHaveLength(3);
    },
  );
});
