import { exposedName, exposedUri, findExposed, splitExposed, splitUri, unambiguous } from './naming';

describe('naming', () => {
  it('keeps short valid names plain', () => {
    expect(exposedName('github', 'create_issue')).toBe('github__create_issue');
    expect(splitExposed('github__create_issue')).toEqual({ server: 'github', rest: 'create_issue' });
    expect(splitExposed('github__a__b')).toEqual({ server: 'github', rest: 'a__b' });
  });

  it('sanitises invalid characters deterministically and keeps names distinct', () => {
    const a = exposedName('srv', 'files.read');
    const b = exposedName('srv', 'files_read');
    expect(a).toMatch(/^srv__files_read_[0-9a-f]{8}$/);
    expect(b).toBe('srv__files_read');
    expect(a).not.toBe(b);
    expect(exposedName('srv', 'files.read')).toBe(a);
  });

  it('truncates long names to 64 characters with a hash, keeping the server prefix', () => {
    const long = 'x'.repeat(100);
    const e1 = exposedName('a-very-long-server-slug-of-forty-chars-x', long);
    const e2 = exposedName('a-very-long-server-slug-of-forty-chars-x', long + 'y');
    expect(e1.length).toBeLessThanOrEqual(64);
    expect(e1).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(e1).not.toBe(e2);
    expect(splitExposed(e1)?.server).toBe('a-very-long-server-slug-of-forty-chars-x');
  });

  it("hashes a valid name shaped like a hashed form, so it cannot take a neighbour's exposed name", () => {
    const hashed = exposedName('nm', 'dotted.name');
    const lookalike = hashed.slice('nm__'.length);
    expect(exposedName('nm', lookalike)).not.toBe(hashed);
    expect(exposedName('nm', lookalike)).toMatch(/^nm__dotted_name_[0-9a-f]{8}_[0-9a-f]{8}$/);
    expect(exposedName('nm', 'sha_deadbee')).toBe('nm__sha_deadbee');
  });

  it('finds the item an exposed name stands for, and none when two items share it', () => {
    const items = [{ name: 'dotted.name' }, { name: 'a.b' }, { name: 'plain' }];
    expect(findExposed('nm', items, exposedName('nm', 'a.b'))).toEqual({ name: 'a.b' });
    expect(findExposed('nm', items, 'nm__a_b')).toBeNull();
    // Same exposed name twice (what a crafted hash collision looks like): neither resolves nor lists.
    const twice = [{ name: 'a.b' }, { name: 'a.b' }, { name: 'plain' }];
    expect(findExposed('nm', twice, exposedName('nm', 'a.b'))).toBeNull();
    expect(unambiguous('nm', twice)).toEqual([{ name: 'plain' }]);
    expect(unambiguous('nm', items)).toEqual(items);
  });

  it('rejects names without a server part', () => {
    expect(splitExposed('plain')).toBeNull();
    expect(splitExposed('__x')).toBeNull();
    expect(splitExposed('srv__')).toBeNull();
  });

  it('round-trips resource URIs', () => {
    const e = exposedUri('everything', 'test://static/resource/1');
    expect(e).toBe('tg://everything/test://static/resource/1');
    expect(splitUri(e)).toEqual({ server: 'everything', uri: 'test://static/resource/1' });
    expect(splitUri('file:///etc/passwd')).toBeNull();
    expect(splitUri('tg:///x')).toBeNull();
  });
});
