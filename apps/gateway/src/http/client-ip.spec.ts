import { ClientIpResolver, parseTrustedProxies } from './client-ip';

const resolver = (...cidrs: string[]) => new ClientIpResolver(parseTrustedProxies(cidrs));

describe('ClientIpResolver', () => {
  it('answers the socket address when no proxy is trusted, whatever the headers claim', () => {
    const r = resolver();
    expect(r.resolve('203.0.113.9', { 'x-forwarded-for': '10.0.0.1' })).toBe('203.0.113.9');
    expect(r.resolve('203.0.113.9', { forwarded: 'for=10.0.0.1' })).toBe('203.0.113.9');
    expect(r.resolve(undefined, {})).toBeNull();
  });

  it('ignores forwarding headers from a peer that is not a trusted proxy', () => {
    expect(resolver('10.0.0.0/8').resolve('203.0.113.9', { 'x-forwarded-for': '198.51.100.7' })).toBe('203.0.113.9');
  });

  it('takes the rightmost hop that is not a trusted proxy: what a client puts to its left is not believed', () => {
    const r = resolver('10.0.0.0/8', '192.168.1.1');
    // client spoofs 1.1.1.1; the edge proxy (192.168.1.1) appended the real client, then 10.0.0.5 forwarded.
    expect(r.resolve('10.0.0.2', { 'x-forwarded-for': '1.1.1.1, 198.51.100.7, 192.168.1.1, 10.0.0.5' })).toBe('198.51.100.7');
    expect(r.resolve('::ffff:10.0.0.2', { 'x-forwarded-for': '198.51.100.7' })).toBe('198.51.100.7');
    // Repeated headers are one list.
    expect(r.resolve('10.0.0.2', { 'x-forwarded-for': ['1.1.1.1', '198.51.100.8'] as unknown as string })).toBe('198.51.100.8');
  });

  it('answers the leftmost hop when every hop is a trusted proxy, and the peer when there is no header', () => {
    const r = resolver('10.0.0.0/8');
    expect(r.resolve('10.0.0.2', { 'x-forwarded-for': '10.1.1.1, 10.2.2.2' })).toBe('10.1.1.1');
    expect(r.resolve('10.0.0.2', {})).toBe('10.0.0.2');
  });

  it('stops at a hop it cannot read: the proxy that wrote it is the client as far as we know', () => {
    const r = resolver('10.0.0.0/8');
    expect(r.resolve('10.0.0.2', { 'x-forwarded-for': '198.51.100.7, bogus, 10.0.0.9' })).toBe('10.0.0.9');
    expect(r.resolve('10.0.0.2', { 'x-forwarded-for': 'bogus' })).toBe('10.0.0.2');
    expect(r.resolve('10.0.0.2', { forwarded: 'for=unknown' })).toBe('10.0.0.2');
    expect(r.resolve('10.0.0.2', { forwarded: 'by=10.0.0.2' })).toBe('10.0.0.2');
  });

  it('reads ports, brackets, IPv6 and RFC 7239 Forwarded', () => {
    const r = resolver('10.0.0.0/8', 'fd00::/8');
    expect(r.resolve('10.0.0.2', { 'x-forwarded-for': '198.51.100.7:51234' })).toBe('198.51.100.7');
    expect(r.resolve('10.0.0.2', { 'x-forwarded-for': '2001:db8::5' })).toBe('2001:db8::5');
    expect(r.resolve('fd00::1', { 'x-forwarded-for': '[2001:db8::5]:443' })).toBe('2001:db8::5');
    expect(r.resolve('10.0.0.2', { forwarded: 'for=1.1.1.1, for="[2001:db8::6]:4711";proto=https, For=10.0.0.3' })).toBe('2001:db8::6');
    expect(r.resolve('10.0.0.2', { forwarded: 'proto=https;for=198.51.100.9:80' })).toBe('198.51.100.9');
  });

  it('prefers X-Forwarded-For over Forwarded when both are present', () => {
    expect(resolver('10.0.0.0/8').resolve('10.0.0.2', { 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.2' })).toBe(
      '198.51.100.1',
    );
  });

  it('refuses a TRUSTED_PROXIES entry it cannot read', () => {
    expect(() => parseTrustedProxies(['10.0.0.0/8', 'proxy.internal'])).toThrow(/proxy\.internal/);
    expect(() => parseTrustedProxies(['10.0.0.0/33'])).toThrow();
  });
});
