import {
  accessTokenKey,
  canonicalResource,
  looksLikeAccessToken,
  signAccessToken,
  verifyAccessToken,
  type AccessTokenClaims,
} from './oauth';

const key = accessTokenKey(Buffer.alloc(32, 7));
const claims = (over: Partial<AccessTokenClaims> = {}): AccessTokenClaims => ({
  iss: 'http://api.test',
  aud: 'http://gw.test/mcp/acme',
  sub: 'user-1',
  client_id: 'client-1',
  org: 'org-1',
  gid: 'grant-1',
  scope: 'mcp',
  iat: 1000,
  exp: 2000,
  jti: 'j1',
  ...over,
});

describe('access tokens', () => {
  it('verify what was signed, before expiry only', () => {
    const t = signAccessToken(key, claims());
    expect(looksLikeAccessToken(t)).toBe(true);
    expect(verifyAccessToken(key, t, 1500)).toEqual(claims());
    expect(verifyAccessToken(key, t, 2000)).toBeNull();
  });

  it('refuse another key, a changed payload, alg none and extra segments', () => {
    const t = signAccessToken(key, claims());
    expect(verifyAccessToken(accessTokenKey(Buffer.alloc(32, 8)), t, 1500)).toBeNull();
    const [h, , s] = t.split('.');
    const forged = Buffer.from(JSON.stringify(claims({ org: 'org-2' }))).toString('base64url');
    expect(verifyAccessToken(key, `${h}.${forged}.${s}`, 1500)).toBeNull();
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    expect(verifyAccessToken(key, `${none}.${t.split('.')[1]}.`, 1500)).toBeNull();
    expect(verifyAccessToken(key, `${t}.x`, 1500)).toBeNull();
    expect(verifyAccessToken(key, 'tg_abc', 1500)).toBeNull();
  });

  it('canonicalise endpoint URLs for audience checks', () => {
    expect(canonicalResource('HTTP://GW.test:80/mcp/acme/')).toBe('http://gw.test/mcp/acme');
    expect(canonicalResource('https://gw.test:8443/mcp/acme?x=1')).toBe('https://gw.test:8443/mcp/acme');
    expect(canonicalResource('ftp://gw.test/mcp')).toBeNull();
    expect(canonicalResource('not a url')).toBeNull();
    expect(canonicalResource('https://u:p@gw.test/mcp')).toBeNull();
  });
});
