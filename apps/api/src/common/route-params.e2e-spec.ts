import { type Api, createOrg, expectProblem, startApi, signup, type TestUser } from '../../test/harness';

describe('route params Postgres cannot store', () => {
  let api: Api;
  let owner: TestUser;
  let org: { id: string; slug: string };
  beforeAll(async () => {
    api = await startApi();
    owner = await signup(api, 'params');
    org = await createOrg(api, owner);
  });
  afterAll(() => api.close());

  it.each([
    ['a NUL byte as the org', '/v1/orgs/%00'],
    ['a NUL byte inside a slug', '/v1/orgs/acme%00x/members'],
  ])('%s answers a 404 problem, not a 500', async (_what, path) => {
    const res = await api.req().get(path).set(owner.auth);
    expectProblem(res, 404, 'not_found');
  });

  it('bytes that are not UTF-8 fail to decode in the router: a 400 problem, not a 500', async () => {
    const res = await api.req().get('/v1/orgs/%ED%A0%80').set(owner.auth);
    expectProblem(res, 400);
  });

  it('a NUL byte in a nested param (server id) answers 404 too', async () => {
    const res = await api.req().get(`/v1/orgs/${org.slug}/servers/x%00y`).set(owner.auth);
    expectProblem(res, 404, 'not_found');
  });

  it('ordinary params still reach the handler', async () => {
    await api.req().get(`/v1/orgs/${org.slug}`).set(owner.auth).expect(200);
  });
});
