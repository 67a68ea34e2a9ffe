import { type Api, expectProblem, signup, startApi, uniq } from '../../../test/harness';

describe('auth', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi({ LOGIN_MAX_FAILURES: '3' });
  });
  afterAll(() => api.close());

  it('signs up, returns tokens, and /v1/me shows the user', async () => {
    const u = await signup(api, 'alice');
    const me = await api.req().get('/v1/me').set(u.auth).expect(200);
    expect(me.body).toMatchObject({ id: u.id, email: u.email, name: 'alice', orgs: [] });
    expect(me.body.passwordHash).toBeUndefined();
    const row = await api.prisma.db.user.findUniqueOrThrow({ where: { id: u.id } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$/);
  });

  it('normalises email case and refuses a duplicate account', async () => {
    const u = await signup(api, 'dup');
    const res = await api.req().post('/v1/auth/signup').send({ email: u.email.toUpperCase(), password: 'another password!', name: 'x' });
    expectProblem(res, 409, 'conflict');
  });

  it('rejects bad signup input with field errors', async () => {
    const res = await api.req().post('/v1/auth/signup').send({ email: 'not-an-email', password: 'short', name: '' });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['email', 'name', 'password']);
  });

  it('rejects unknown fields', async () => {
    const res = await api
      .req()
      .post('/v1/auth/signup')
      .send({ email: `${uniq('u')}@example.test`, password: 'long enough password', name: 'n', isAdmin: true });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.detail).toContain('unknown field: isAdmin');
  });

  it('answers malformed JSON with a 400 problem', async () => {
    const res = await api.req().post('/v1/auth/login').set('Content-Type', 'application/json').send('{"email": "a@b.c",');
    expectProblem(res, 400, 'malformed_json');
  });

  it('answers an oversized body with 413', async () => {
    const res = await api
      .req()
      .post('/v1/auth/signup')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(1_100_000), name: 'n' }));
    expectProblem(res, 413, 'payload_too_large');
  });

  it('logs in with the right password and refuses the wrong one', async () => {
    const u = await signup(api, 'bob');
    const ok = await api.req().post('/v1/auth/login').send({ email: u.email, password: u.password }).expect(200);
    expect(ok.body.accessToken).toEqual(expect.any(String));
    const bad = await api.req().post('/v1/auth/login').send({ email: u.email, password: 'wrong password' });
    expectProblem(bad, 401, 'invalid_credentials');
    const unknown = await api
      .req()
      .post('/v1/auth/login')
      .send({ email: `${uniq('nobody')}@example.test`, password: 'whatever' });
    expectProblem(unknown, 401, 'invalid_credentials');
  });

  it('rate-limits failed logins with 429 and Retry-After, even for the right password', async () => {
    const u = await signup(api, 'locked');
    for (let i = 0; i < 3; i++) {
      await api.req().post('/v1/auth/login').send({ email: u.email, password: 'wrong password' }).expect(401);
    }
    const res = await api.req().post('/v1/auth/login').send({ email: u.email, password: u.password });
    expectProblem(res, 429, 'rate_limited');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('rotates refresh tokens and detects reuse by revoking the whole family', async () => {
    const u = await signup(api, 'carol');
    const first = await api.req().post('/v1/auth/refresh').send({ refreshToken: u.refreshToken }).expect(200);
    expect(first.body.refreshToken).not.toBe(u.refreshToken);
    // The old token is replayed: reuse is detected...
    const reuse = await api.req().post('/v1/auth/refresh').send({ refreshToken: u.refreshToken });
    expectProblem(reuse, 401, 'token_reused');
    // ...and the token issued by the legitimate rotation is revoked with its family.
    const after = await api.req().post('/v1/auth/refresh').send({ refreshToken: first.body.refreshToken });
    expectProblem(after, 401, 'token_reused');
  });

  it('refuses an expired refresh token', async () => {
    const u = await signup(api, 'dave');
    await api.prisma.db.refreshToken.updateMany({ where: { userId: u.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const res = await api.req().post('/v1/auth/refresh').send({ refreshToken: u.refreshToken });
    expectProblem(res, 401, 'token_expired');
  });

  it('refuses an unknown refresh token', async () => {
    const res = await api
      .req()
      .post('/v1/auth/refresh')
      .send({ refreshToken: 'tgr_' + 'x'.repeat(43) });
    expectProblem(res, 401, 'unauthenticated');
  });

  it('logout revokes the refresh token', async () => {
    const u = await signup(api, 'erin');
    await api.req().post('/v1/auth/logout').send({ refreshToken: u.refreshToken }).expect(204);
    const res = await api.req().post('/v1/auth/refresh').send({ refreshToken: u.refreshToken });
    expectProblem(res, 401);
  });

  it('refuses /v1/me without, or with a bad or expired, access token', async () => {
    expectProblem(await api.req().get('/v1/me'), 401, 'unauthenticated');
    expectProblem(await api.req().get('/v1/me').set('Authorization', 'Bearer nonsense'), 401, 'unauthenticated');
    const expiredApi = await startApi({ ACCESS_TOKEN_TTL_SECONDS: '1' });
    try {
      const u = await signup(expiredApi, 'short');
      await new Promise((r) => setTimeout(r, 2100));
      expectProblem(await expiredApi.req().get('/v1/me').set(u.auth), 401, 'token_expired');
    } finally {
      await expiredApi.close();
    }
  });
});
