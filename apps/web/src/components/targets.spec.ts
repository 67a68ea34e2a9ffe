import { NO_NAMES, resolveTarget, splitAdminTarget } from './targets';

const names = { ...NO_NAMES, servers: { s1: 'Weather' }, keys: { k1: 'ci-bot' }, members: { u1: 'ann@example.com' } };

describe('resolveTarget', () => {
  it('names and links a thing that still exists', () => {
    expect(resolveTarget('acme', 'server', 's1', names)).toEqual({ name: 'Weather', href: '/o/acme/servers/s1' });
    expect(resolveTarget('acme', 'key', 'k1', names)).toEqual({ name: 'ci-bot', href: '/o/acme/keys/k1' });
  });

  it('links no page for a deleted thing', () => {
    expect(resolveTarget('acme', 'role', 'gone', names)).toEqual({ name: null, href: null });
  });

  it('members are named by e-mail and link to the members page', () => {
    expect(resolveTarget('acme', 'member', 'u1', names)).toEqual({ name: 'ann@example.com', href: '/o/acme/members' });
  });
});

describe('splitAdminTarget', () => {
  it('splits type and id', () => {
    expect(splitAdminTarget('key:0f0e')).toEqual({ type: 'key', id: '0f0e' });
    expect(splitAdminTarget('billing')).toEqual({ type: 'billing', id: null });
    expect(splitAdminTarget(null)).toBeNull();
  });
});
