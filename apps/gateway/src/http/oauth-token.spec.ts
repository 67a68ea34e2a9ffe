import { randomBytes } from 'node:crypto';
import { type AccessTokenClaims, accessTokenKey, type PolicySnapshot, signAccessToken } from '@toolgate/contracts';
import { AccessTokenVerifier, endpointResource } from './oauth-token';

const secret = randomBytes(32);
const key = accessTokenKey(secret);
const NOW = 1_800_000_000;
const ORG_URL = 'https://gw.example/mcp/acme';
const grant = {
  id: 'grant-1',
  clientId: 'client-1',
  clientName: 'Client',
  userId: 'user-1',
  userEmail: 'u@example.test',
  roleIds: ['role-1'],
  resource: ORG_URL,
};
const snapshot = (grants = [grant]) => ({ orgId: 'org-a', grants }) as unknown as PolicySnapshot;
const claims = (over: Partial<AccessTokenClaims> = {}): AccessTokenClaims => ({
  iss: 'https://api.example',
  aud: ORG_URL,
  sub: 'user-1',
  client_id: 'client-1',
  org: 'org-a',
  gid: 'grant-1',
  scope: 'mcp',
  iat: NOW - 10,
  exp: NOW + 3600,
  jti: 'j1',
  ...over,
});
const verifier = new AccessTokenVerifier(secret, () => NOW);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('AccessTokenVerifier', () => {
  it('accepts a live token for this endpoint and names its grant', () => {
    const r = verifier.check(signAccessToken(key, claims()), snapshot(), ORG_URL);
    expect(r).toMatchObject({ ok: true, grant: { id: 'grant-1' } });
  });

  it('refuses a forged signature, another key, alg none and garbage as invalid', () => {
    const good = signAccessToken(key, claims());
    const [h, p] = good.split('.');
    const forged = `${h}.${b64({ ...claims(), gid: 'grant-2' })}.${good.split('.')[2]}`;
    const otherKey = signAccessToken(accessTokenKey(randomBytes(32)), claims());
    const none = `${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.`;
    for (const t of [forged, otherKey, none, `${h}.${p}`, 'x.y.z']) {
      expect(verifier.check(t, snapshot(), ORG_URL)).toEqual({ ok: false, reason: 'invalid', clientId: null });
    }
  });

  it('refuses an expired token as expired', () => {
    const t = signAccessToken(key, claims({ exp: NOW }));
    expect(verifier.check(t, snapshot(), ORG_URL)).toEqual({ ok: false, reason: 'expired', clientId: null });
  });

  it('refuses another org’s token, or any at an unknown org, exactly like a bad one', () => {
    const t = signAccessToken(key, claims({ org: 'org-b' }));
    expect(verifier.check(t, snapshot(), ORG_URL)).toEqual({ ok: false, reason: 'invalid', clientId: null });
    expect(verifier.check(signAccessToken(key, claims()), null, ORG_URL)).toEqual({ ok: false, reason: 'invalid', clientId: null });
  });

  it('refuses a token for another endpoint or host (audience)', () => {
    const server = `${ORG_URL}/weather`;
    expect(verifier.check(signAccessToken(key, claims()), snapshot(), server)).toMatchObject({ ok: false, reason: 'audience' });
    const serverToken = signAccessToken(key, claims({ aud: server }));
    expect(verifier.check(serverToken, snapshot(), ORG_URL)).toMatchObject({ ok: false, reason: 'audience' });
    const otherHost = signAccessToken(key, claims({ aud: 'https://evil.example/mcp/acme' }));
    expect(verifier.check(otherHost, snapshot(), ORG_URL)).toMatchObject({ ok: false, reason: 'audience', clientId: 'client-1' });
  });

  it('refuses a token whose grant is not in the snapshot (revoked)', () => {
    expect(verifier.check(signAccessToken(key, claims()), snapshot([]), ORG_URL)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('refuses a token that disagrees with its grant (client, person, endpoint)', () => {
    for (const over of [{ client_id: 'client-2' }, { sub: 'user-2' }]) {
      expect(verifier.check(signAccessToken(key, claims(over)), snapshot(), ORG_URL)).toMatchObject({ ok: false, reason: 'invalid' });
    }
    const moved = snapshot([{ ...grant, resource: `${ORG_URL}/weather` }]);
    expect(verifier.check(signAccessToken(key, claims()), moved, ORG_URL)).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('makes canonical endpoint URLs from the public URL', () => {
    expect(endpointResource('HTTPS://GW.Example:443/', 'acme', null)).toBe(ORG_URL);
    expect(endpointResource('http://127.0.0.1:8080', 'acme', 'weather')).toBe('http://127.0.0.1:8080/mcp/acme/weather');
  });
});
