import { cidrContains, parseCidr, parseIp } from './ip';

function inBlock(cidr: string, ip: string): boolean {
  const block = parseCidr(cidr);
  const address = parseIp(ip);
  if (block === null || address === null) throw new Error(`bad test input ${cidr} / ${ip}`);
  return cidrContains(block, address);
}

describe('parseIp', () => {
  it('parses IPv4 as IPv4-mapped IPv6', () => {
    expect(parseIp('10.1.2.3')).toEqual([0, 0, 0xffff, 0x0a010203]);
    expect(parseIp('255.255.255.255')).toEqual([0, 0, 0xffff, 0xffffffff]);
  });

  it('treats ::ffff:a.b.c.d (and its hex spelling) as the same IPv4 address', () => {
    expect(parseIp('::ffff:10.1.2.3')).toEqual(parseIp('10.1.2.3'));
    expect(parseIp('::ffff:a01:203')).toEqual(parseIp('10.1.2.3'));
    expect(parseIp('::FFFF:10.1.2.3')).toEqual(parseIp('10.1.2.3'));
  });

  it('parses IPv6 forms', () => {
    expect(parseIp('::')).toEqual([0, 0, 0, 0]);
    expect(parseIp('::1')).toEqual([0, 0, 0, 1]);
    expect(parseIp('2001:db8::1')).toEqual([0x20010db8, 0, 0, 1]);
    expect(parseIp('2001:db8:0:0:0:0:0:1')).toEqual([0x20010db8, 0, 0, 1]);
    expect(parseIp('fe80::1%eth0')).toEqual([0xfe800000, 0, 0, 1]);
    expect(parseIp('[2001:db8::1]')).toEqual([0x20010db8, 0, 0, 1]);
    expect(parseIp('1::')).toEqual([0x00010000, 0, 0, 0]);
  });

  it('rejects malformed addresses', () => {
    for (const bad of [
      '',
      'localhost',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '1.2.3.-1',
      '1:2:3',
      ':::',
      '1::2::3',
      '12345::',
      'g::1',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7::8',
      '1.2.3.4::',
    ]) {
      expect(parseIp(bad)).toBeNull();
    }
  });
});

describe('parseCidr / cidrContains', () => {
  it('matches IPv4 blocks', () => {
    expect(inBlock('10.0.0.0/8', '10.255.1.2')).toBe(true);
    expect(inBlock('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(inBlock('192.168.1.0/24', '192.168.1.77')).toBe(true);
    expect(inBlock('192.168.1.0/24', '192.168.2.1')).toBe(false);
    expect(inBlock('203.0.113.7', '203.0.113.7')).toBe(true); // bare address = /32
    expect(inBlock('203.0.113.7', '203.0.113.8')).toBe(false);
    expect(inBlock('0.0.0.0/0', '8.8.8.8')).toBe(true);
    expect(inBlock('10.9.9.9/8', '10.1.1.1')).toBe(true); // host bits in the rule are ignored
  });

  it('matches IPv6 blocks', () => {
    expect(inBlock('2001:db8::/32', '2001:db8:1234::1')).toBe(true);
    expect(inBlock('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(inBlock('2001:db8::/33', '2001:db8:7fff::1')).toBe(true);
    expect(inBlock('2001:db8::/33', '2001:db8:8000::1')).toBe(false);
    expect(inBlock('::1', '::1')).toBe(true);
    expect(inBlock('::1/128', '::2')).toBe(false);
    expect(inBlock('2001:db8::/127', '2001:db8::1')).toBe(true);
  });

  it('matches IPv4-mapped clients against IPv4 blocks and vice versa', () => {
    expect(inBlock('10.0.0.0/8', '::ffff:10.1.2.3')).toBe(true);
    expect(inBlock('10.0.0.0/8', '::ffff:11.1.2.3')).toBe(false);
    expect(inBlock('::ffff:10.0.0.0/104', '10.20.30.40')).toBe(true);
    expect(inBlock('::ffff:0:0/96', '1.2.3.4')).toBe(true);
  });

  it('keeps IPv4 blocks from matching native IPv6 and vice versa', () => {
    expect(inBlock('0.0.0.0/0', '2001:db8::1')).toBe(false);
    expect(inBlock('2001:db8::/32', '10.0.0.1')).toBe(false);
  });

  it('rejects malformed blocks', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/x', '::/129', ':::::', '10.0.0/8', '2001:db8::/-1']) {
      expect(parseCidr(bad)).toBeNull();
    }
  });
});
