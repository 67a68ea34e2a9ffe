import { isRegisteredRedirectUri, redirectUriProblem } from './redirect-uri';

describe('redirect URIs', () => {
  it('match exactly, or a loopback IP listener on another port', () => {
    const registered = ['http://127.0.0.1:33418/callback', 'http://[::1]:5000/cb?x=1', 'https://app.example/cb'];
    expect(isRegisteredRedirectUri(registered, 'https://app.example/cb')).toBe(true);
    expect(isRegisteredRedirectUri(registered, 'http://127.0.0.1:51000/callback')).toBe(true);
    expect(isRegisteredRedirectUri(registered, 'http://127.0.0.1/callback')).toBe(true);
    expect(isRegisteredRedirectUri(registered, 'http://[::1]:6000/cb?x=1')).toBe(true);
  });

  it('refuse any other difference, and port changes off loopback IPs', () => {
    const registered = ['http://127.0.0.1:33418/callback', 'https://app.example/cb', 'http://localhost:3000/cb'];
    for (const uri of [
      'http://127.0.0.1:51000/callback/',
      'http://127.0.0.1:51000/callback?next=x',
      'http://127.0.0.2:33418/callback',
      'https://127.0.0.1:33418/callback',
      'http://user@127.0.0.1:1/callback',
      'https://app.example:8443/cb',
      'https://app.example/cb/../cb',
      'http://localhost:4000/cb',
      'http://127.0.0.1:51000/CALLBACK',
    ]) {
      expect([uri, isRegisteredRedirectUri(registered, uri)]).toEqual([uri, false]);
    }
  });

  it('register https, loopback http and private-use schemes only', () => {
    expect(redirectUriProblem('http://127.0.0.1:1/cb')).toBeNull();
    expect(redirectUriProblem('com.example.app:/cb')).toBeNull();
    expect(redirectUriProblem('javascript:alert(1)')).toMatch(/not allowed/);
    expect(redirectUriProblem('http://evil.example/cb')).toMatch(/loopback/);
  });
});
