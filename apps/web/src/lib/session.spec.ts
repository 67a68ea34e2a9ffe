import { fakeAuthApi } from '../../test/fake-auth-api';
import { refreshSession, safeNext } from './session';

describe('refreshSession', () => {
  const api = fakeAuthApi();
  let n = 0;
  const token = () => `tgr_session_spec_${++n}_${Date.now()}`;

  beforeAll(() => api.start());
  afterAll(() => api.close());
  afterEach(() => {
    delete process.env.TOOLGATE_API_TIMEOUT_MS;
  });

  it('shares one refresh among parallel requests and remembers its answer for the old cookie', async () => {
    const t = token();
    api.answers.push(200);
    const [a, b] = await Promise.all([refreshSession(t), refreshSession(t)]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ ok: true, pair: { refreshToken: expect.stringMatching(/^rt/) } });
    // A request still carrying the rotated token gets the same pair, without a second rotation.
    await expect(refreshSession(t)).resolves.toEqual(a);
    expect(api.received().filter((r) => r === t)).toHaveLength(1);
  });

  it('remembers a refusal (401): the token is dead', async () => {
    const t = token();
    api.answers.push(401);
    await expect(refreshSession(t)).resolves.toEqual({ ok: false, status: 401 });
    await expect(refreshSession(t)).resolves.toEqual({ ok: false, status: 401 });
    expect(api.received().filter((r) => r === t)).toHaveLength(1);
  });

  it.each([
    ['a 5xx answer', 502 as const, 502],
    ['a dropped connection', 'drop' as const, 503],
    ['no answer within TOOLGATE_API_TIMEOUT_MS', 'hang' as const, 503],
  ])('does not remember an outage (%s): the next request asks the API again', async (_name, answer, status) => {
    process.env.TOOLGATE_API_TIMEOUT_MS = '300';
    const t = token();
    api.answers.push(answer, 200);
    await expect(refreshSession(t)).resolves.toEqual({ ok: false, status });
    await expect(refreshSession(t)).resolves.toMatchObject({ ok: true });
    expect(api.received().filter((r) => r === t)).toHaveLength(2);
  });
});

describe("safeNext (the login page's return path)", () => {
  it.each(['/o/acme/keys', '/oauth/consent?request=abc123', '/o/acme/audit?q=a%2Fb#top'])('keeps a path on this dashboard: %s', (next) => {
    expect(safeNext(next)).toBe(next);
  });

  it.each([
    ['an absolute URL', 'https://evil.example'],
    ['a scheme-relative URL', '//evil.example'],
    ['a backslash the browser reads as a slash', '/\\evil.example'],
    ['a tab the browser drops', '/\t/evil.example'],
    ['a newline the browser drops', '/\n/evil.example'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a relative path', 'evil.example'],
    ['nothing', undefined],
  ])('refuses %s', (_name, next) => {
    expect(safeNext(next)).toBe('/');
  });
});
