import { hostOf, isRedirectFor, scopeRoleNames } from './oauth';

describe('consent page helpers', () => {
  it('shows hosts, including private-use schemes of native apps', () => {
    expect(hostOf('https://app.example.com/about')).toBe('app.example.com');
    expect(hostOf('http://127.0.0.1:33418/callback')).toBe('127.0.0.1:33418');
    expect(hostOf('com.example.app:/oauth')).toBe('com.example.app:');
    expect(hostOf('not a url')).toBeNull();
    expect(hostOf(null)).toBeNull();
  });

  it('preselects the roles named in the scope', () => {
    expect([...scopeRoleNames('mcp role:reader  role:ops role:')]).toEqual(['reader', 'ops']);
    expect(scopeRoleNames(null).size).toBe(0);
  });

  it('follows only a redirect to the redirect URI that was shown', () => {
    const uri = 'http://127.0.0.1:4567/callback';
    expect(isRedirectFor(`${uri}?code=abc&state=xyz`, uri)).toBe(true);
    expect(isRedirectFor('https://app.example/cb?x=1&error=access_denied', 'https://app.example/cb?x=1')).toBe(true);
    expect(isRedirectFor('com.example.app:/oauth?code=1', 'com.example.app:/oauth')).toBe(true);
    expect(isRedirectFor('https://evil.example/callback?code=abc', uri)).toBe(false);
    expect(isRedirectFor('http://127.0.0.1:4567/other?code=abc', uri)).toBe(false);
    expect(isRedirectFor('http://attacker@127.0.0.1:4567/callback?code=abc', uri)).toBe(false);
    expect(isRedirectFor('javascript:alert(1)//', 'javascript:alert(1)//')).toBe(false);
    expect(isRedirectFor('/relative?code=1', uri)).toBe(false);
  });
});
