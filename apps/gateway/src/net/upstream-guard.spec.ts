import { hostAddresses } from './private-ranges';
import { UpstreamGuard } from './upstream-guard';

describe('UpstreamGuard', () => {
  const guard = new UpstreamGuard([]);

  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
  ])('refuses %s', (address) => {
    expect(guard.refusal(address)).toMatch(/is private, loopback, link-local or this host's own/);
  });

  it("refuses this host's own addresses", () => {
    for (const a of hostAddresses()) expect(guard.refusal(a)).not.toBeNull();
  });

  it('lets public addresses through', () => {
    for (const a of ['203.0.113.7', '8.8.8.8', '2001:db8::1', '::ffff:8.8.8.8']) expect(guard.refusal(a)).toBeNull();
  });

  it('lets an operator-allowed range through, and nothing beside it', () => {
    const lenient = new UpstreamGuard(['10.20.0.0/16', 'fd12::/16']);
    expect(lenient.refusal('10.20.3.4')).toBeNull();
    expect(lenient.refusal('fd12::5')).toBeNull();
    expect(lenient.refusal('10.21.0.1')).not.toBeNull();
    expect(lenient.refusal('169.254.169.254')).not.toBeNull();
  });

  it('refuses a name that resolves to a blocked address, on the lookup net.connect makes', async () => {
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => guard.lookup('localhost', {}, (err) => resolve(err)));
    expect(error?.code).toBe('EUPSTREAMBLOCKED');
    expect(error?.message).toMatch(/^upstream localhost refused: its address (127\.0\.0\.1|::1) is private/);
    const allowed = new UpstreamGuard(['127.0.0.0/8', '::1/128']);
    const ok = await new Promise<string | unknown>((resolve) => allowed.lookup('localhost', {}, (err, address) => resolve(err ?? address)));
    expect(ok).toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});
