import { assertPublicTarget, InternalTargetError, isInternalAddress } from './webhook-target';

describe('webhook targets (production SSRF guard)', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fd00::1',
    'fe80::1',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
    'not-an-ip',
  ])('%s is internal', (ip) => {
    expect(isInternalAddress(ip)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:1.1.1.1'])('%s is public', (ip) => {
    expect(isInternalAddress(ip)).toBe(false);
  });

  it('refuses URLs whose host is or resolves to an internal address', async () => {
    await expect(assertPublicTarget('http://127.0.0.1:8080/x')).rejects.toBeInstanceOf(InternalTargetError);
    await expect(assertPublicTarget('http://[::1]/x')).rejects.toThrow('internal address (::1)');
    await expect(assertPublicTarget('http://localhost/x')).rejects.toBeInstanceOf(InternalTargetError);
    await expect(assertPublicTarget('https://93.184.216.34/hook')).resolves.toBeUndefined();
  });
});
