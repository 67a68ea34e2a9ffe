import { randomBytes } from 'node:crypto';
import { type Api, expectProblem, startApi, uniq } from '../../test/harness';

/** A client address of its own (behind the loopback proxy), so windows of earlier runs never count. */
const freshIp = () => `10.${randomBytes(3).join('.')}`;

describe('the API edge: headers and security.txt', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi({ SECURITY_CONTACT: 'security@toolgate.example', SECURITY_TXT_EXPIRES: '2027-06-30T00:00:00Z' });
  });
  afterAll(() => api.close());

  it('sends the security headers on JSON answers and problems alike, without HSTS over plain HTTP', async () => {
    for (const res of [await api.req().get('/healthz'), await api.req().get('/v1/me')]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('sends HSTS when the (loopback) proxy says the request came over https', async () => {
    const res = await api.req().get('/healthz').set('X-Forwarded-Proto', 'https');
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('serves /.well-known/security.txt from SECURITY_CONTACT and SECURITY_TXT_EXPIRES', async () => {
    const res = await api.req().get('/.well-known/security.txt').expect(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toContain('Contact: mailto:security@toolgate.example\n');
    expect(res.text).toContain('Expires: 2027-06-30T00:00:00Z\n');
    expect(res.text).toContain('Canonical: http://127.0.0.1:4000/.well-known/security.txt\n');
  });

  it('answers 404 for security.txt when no contact is configured', async () => {
    const bare = await startApi({ SECURITY_CONTACT: '' });
    try {
      await bare.req().get('/.well-known/security.txt').expect(404);
    } finally {
      await bare.close();
    }
  });
});

describe('the API edge: throttling', () => {
  let api: Api;
  beforeAll(async () => {
    api = await startApi({ SIGNUP_PER_IP_PER_HOUR: '3', AUTH_PER_IP_PER_MINUTE: '4', MANAGE_WRITES_PER_USER_PER_MINUTE: '5' });
    // Requests pass while Redis is not connected yet (the throttle fails open): count from connected.
    for (let i = 0; i < 200 && !api.redis.ready; i++) await new Promise((r) => setTimeout(r, 10));
  });
  afterAll(() => api.close());

  const signupFrom = (ip: string) =>
    api
      .req()
      .post('/v1/auth/signup')
      .set('X-Forwarded-For', ip)
      .send({ email: `${uniq('t')}@example.test`, password: 'correct horse battery', name: 'T' });

  /** A user signed up from an address of its own (the loopback address's window may be spent). */
  async function user(): Promise<{ email: string; password: string; auth: { Authorization: string } }> {
    const email = `${uniq('u')}@example.test`;
    const password = 'correct horse battery';
    const res = await api.req().post('/v1/auth/signup').set('X-Forwarded-For', freshIp()).send({ email, password, name: 'U' }).expect(201);
    return { email, password, auth: { Authorization: `Bearer ${res.body.accessToken}` } };
  }

  async function orgOf(auth: { Authorization: string }): Promise<{ slug: string }> {
    const slug = uniq('org');
    await api.req().post('/v1/orgs').set(auth).send({ name: slug, slug }).expect(201);
    return { slug };
  }

  it('allows SIGNUP_PER_IP_PER_HOUR sign-ups per client IP, then 429 problem JSON with Retry-After', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) await signupFrom(ip).expect(201);
    const refused = await signupFrom(ip);
    expectProblem(refused, 429, 'rate_limited');
    expect(refused.headers['content-type']).toContain('application/problem+json');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    // Nobody was created by the refused request, and another address still signs up.
    await signupFrom(freshIp()).expect(201);
  });

  it('counts refused sign-ups (bad input too): a flood is throttled whatever it sends', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) await api.req().post('/v1/auth/signup').set('X-Forwarded-For', ip).send({}).expect(400);
    expectProblem(await signupFrom(ip), 429, 'rate_limited');
  });

  it('allows AUTH_PER_IP_PER_MINUTE logins per client IP, and does not throttle refreshes', async () => {
    const u = await user();
    const ip = freshIp();
    const login = () => api.req().post('/v1/auth/login').set('X-Forwarded-For', ip).send({ email: u.email, password: u.password });
    let refreshToken = '';
    for (let i = 0; i < 4; i++) refreshToken = (await login().expect(200)).body.refreshToken;
    expectProblem(await login(), 429, 'rate_limited');
    // Refreshes are not throttled: the dashboard's server makes every user's from one address.
    for (let i = 0; i < 5; i++) {
      refreshToken = (await api.req().post('/v1/auth/refresh').set('X-Forwarded-For', ip).send({ refreshToken }).expect(200)).body
        .refreshToken;
    }
  });

  it('allows MANAGE_WRITES_PER_USER_PER_MINUTE writes per user; reads and other users are not charged', async () => {
    const owner = await user();
    const other = await user();
    // The org is the owner's first write, four keys the next: five.
    const org = await orgOf(owner.auth);
    for (let i = 0; i < 4; i++) {
      await api
        .req()
        .post(`/v1/orgs/${org.slug}/keys`)
        .set(owner.auth)
        .send({ name: uniq('k'), roleIds: [] })
        .expect(201);
    }
    await api.req().get(`/v1/orgs/${org.slug}/keys`).set(owner.auth).expect(200);
    const refused = await api
      .req()
      .post(`/v1/orgs/${org.slug}/keys`)
      .set(owner.auth)
      .send({ name: uniq('k'), roleIds: [] });
    expectProblem(refused, 429, 'rate_limited');
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    await orgOf(other.auth);
  });
});
