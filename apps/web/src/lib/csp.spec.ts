import { contentSecurityPolicy, newNonce } from './csp';

describe('contentSecurityPolicy', () => {
  afterEach(() => {
    delete process.env.PUBLIC_API_URL;
  });

  it('allows scripts only by nonce, no framing, no plugins, and the API socket for live audit', () => {
    process.env.PUBLIC_API_URL = 'https://api.example.test/toolgate';
    const csp = contentSecurityPolicy('abc', false);
    expect(csp).toContain("script-src 'self' 'nonce-abc' 'strict-dynamic';");
    const directive = (name: string) => csp.split('; ').find((d) => d.startsWith(`${name} `));
    expect(directive('script-src')).not.toContain('unsafe-inline');
    expect(directive('style-src')).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("connect-src 'self' wss://api.example.test;");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
  });

  it('lets next dev eval, and only next dev', () => {
    expect(contentSecurityPolicy('n', true)).toContain("'strict-dynamic' 'unsafe-eval'");
  });

  it('makes a different 128-bit nonce every time', () => {
    const a = newNonce();
    expect(Buffer.from(a, 'base64')).toHaveLength(16);
    expect(newNonce()).not.toBe(a);
  });
});
