import { type Api, createOrg, expectProblem, signup, startApi } from '../../../test/harness';

describe('account', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  async function login(email: string, password: string) {
    const res = await api.req().post('/v1/auth/login').send({ email, password }).expect(200);
    return {
      accessToken: res.body.accessToken as string,
      refreshToken: res.body.refreshToken as string,
      auth: { Authorization: `Bearer ${res.body.accessToken}` },
    };
  }

  it('changes the name, visible in /v1/me, and refuses an empty one with a field error', async () => {
    const u = await signup(api, 'namer');
    const res = await api.req().patch('/v1/me').set(u.auth).send({ name: '  New Name ' }).expect(200);
    expect(res.body).toMatchObject({ id: u.id, name: 'New Name' });
    const me = await api.req().get('/v1/me').set(u.auth).expect(200);
    expect(me.body.name).toBe('New Name');
    const bad = await api.req().patch('/v1/me').set(u.auth).send({ name: ' ' });
    expectProblem(bad, 400, 'validation_failed');
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'name' })]);
  });

  it('refuses a wrong current password and a weak new one with field errors', async () => {
    const u = await signup(api, 'pw-bad');
    const wrong = await api
      .req()
      .post('/v1/me/password')
      .set(u.auth)
      .send({ currentPassword: 'not my password', newPassword: 'a brand new passphrase' });
    expectProblem(wrong, 400, 'validation_failed');
    expect(wrong.body.errors).toEqual([{ path: 'currentPassword', message: expect.any(String) }]);
    const weak = await api.req().post('/v1/me/password').set(u.auth).send({ currentPassword: u.password, newPassword: 'short' });
    expectProblem(weak, 400, 'validation_failed');
    expect(weak.body.errors).toEqual([expect.objectContaining({ path: 'newPassword' })]);
    // Nothing changed: the old password still logs in.
    await login(u.email, u.password);
  });

  it('changes the password: other sessions lose refresh, this one keeps working, the new password logs in', async () => {
    const u = await signup(api, 'pw-ok');
    const other = await login(u.email, u.password);
    await api
      .req()
      .post('/v1/me/password')
      .set(u.auth)
      .send({ currentPassword: u.password, newPassword: 'a brand new passphrase' })
      .expect(204);

    const otherRefresh = await api.req().post('/v1/auth/refresh').send({ refreshToken: other.refreshToken });
    expectProblem(otherRefresh, 401);
    await api.req().get('/v1/me').set(u.auth).expect(200);
    await api.req().post('/v1/auth/refresh').send({ refreshToken: u.refreshToken }).expect(200);

    const old = await api.req().post('/v1/auth/login').send({ email: u.email, password: u.password });
    expectProblem(old, 401, 'invalid_credentials');
    await login(u.email, 'a brand new passphrase');
  });

  it('signs out of all sessions: every refresh token and every live access token stop working', async () => {
    const u = await signup(api, 'all-out');
    const other = await login(u.email, u.password);
    await api.req().post('/v1/auth/logout-all').set(u.auth).expect(204);

    for (const s of [u, other]) {
      expectProblem(await api.req().post('/v1/auth/refresh').send({ refreshToken: s.refreshToken }), 401);
      expectProblem(await api.req().get('/v1/me').set(s.auth), 401);
    }
    // A fresh login afterwards is a new session and works.
    const again = await login(u.email, u.password);
    await api.req().get('/v1/me').set(again.auth).expect(200);
  });

  it('refuses management tokens on the account routes', async () => {
    const u = await signup(api, 'pat');
    const org = await createOrg(api, u);
    const tok = await api
      .req()
      .post('/v1/me/tokens')
      .set(u.auth)
      .send({ name: 'ci', org: org.slug, scopes: ['read'] });
    expect(tok.status).toBe(201);
    const pat = { Authorization: `Bearer ${tok.body.token}` };
    expectProblem(await api.req().patch('/v1/me').set(pat).send({ name: 'x' }), 403, 'session_required');
    expectProblem(
      await api.req().post('/v1/me/password').set(pat).send({ currentPassword: u.password, newPassword: 'a brand new passphrase' }),
      403,
      'session_required',
    );
    expectProblem(await api.req().post('/v1/auth/logout-all').set(pat), 403, 'session_required');
  });
});
