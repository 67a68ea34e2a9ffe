import { isLoopbackAddress, normalizeOrigins, originAllowed } from './util';

/** The Origin check that protects agents' browsers against DNS rebinding (MCP 2025-11-25: 403). */
describe('originAllowed', () => {
  const allowed = normalizeOrigins(['https://gw.example.com', 'https://app.example.com:8443/']);

  it('lets requests without an Origin through (non-browser clients)', () => {
    expect(originAllowed(undefined, allowed, false)).toBe(true);
    expect(originAllowed('', allowed, false)).toBe(true);
  });

  it('accepts the configured origins and the public origin, normalised', () => {
    expect(originAllowed('https://gw.example.com', allowed, false)).toBe(true);
    expect(originAllowed('https://GW.example.com:443', allowed, false)).toBe(true);
    expect(originAllowed('https://app.example.com:8443', allowed, false)).toBe(true);
  });

  it('refuses a rebinding page even when its Origin matches the Host it sent', () => {
    // The attacker's name resolves to the gateway: Host and Origin both say evil.example.com.
    expect(originAllowed('http://evil.example.com', allowed, true)).toBe(false);
    expect(originAllowed('http://evil.example.com:8080', allowed, false)).toBe(false);
  });

  it('refuses other schemes and ports of an allowed host, and unparsable or opaque origins', () => {
    expect(originAllowed('http://gw.example.com', allowed, false)).toBe(false);
    expect(originAllowed('https://gw.example.com:8443', allowed, false)).toBe(false);
    expect(originAllowed('null', allowed, true)).toBe(false);
    expect(originAllowed('not a url', allowed, true)).toBe(false);
  });

  it('accepts loopback origins only on loopback connections', () => {
    for (const o of ['http://localhost:3000', 'http://127.0.0.1:9999', 'http://[::1]:8080', 'https://localhost']) {
      expect([o, originAllowed(o, allowed, true)]).toEqual([o, true]);
      expect([o, originAllowed(o, allowed, false)]).toEqual([o, false]);
    }
    // A name that merely starts like a loopback one is not one.
    expect(originAllowed('http://localhost.evil.example.com', allowed, true)).toBe(false);
    expect(originAllowed('http://127.0.0.1.evil.example.com', allowed, true)).toBe(false);
  });
});

describe('isLoopbackAddress', () => {
  it('knows IPv4, IPv6 and IPv4-mapped loopback addresses', () => {
    expect(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'].map(isLoopbackAddress)).toEqual([true, true, true, true]);
  });

  it('says no to everything else', () => {
    expect(['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', '2001:db8::1', '', undefined].map(isLoopbackAddress)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('normalizeOrigins', () => {
  it('reduces URLs to their origins and keeps unparsable entries verbatim', () => {
    expect([...normalizeOrigins(['https://gw.example.com/mcp/', 'http://HOST:80', 'weird'])]).toEqual([
      'https://gw.example.com',
      'http://host',
      'weird',
    ]);
  });
});
