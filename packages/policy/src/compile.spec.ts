import { PolicySnapshot } from '@toolgate/contracts';
import { type CompileInput, compile } from './compile';
import { PolicyCompileError } from './errors';
import { baseInput, fakeHash, key, SEALED, server } from './test-fixtures';

/** Compiles `input` and returns the PolicyCompileError it throws (fails the test otherwise). */
function compileError(input: CompileInput): PolicyCompileError {
  try {
    compile(input);
  } catch (e) {
    if (e instanceof PolicyCompileError) return e;
    throw e;
  }
  throw new Error('expected compile() to throw');
}

function fullInput(): CompileInput {
  return baseInput({
    keys: [
      key({ id: 'k_b', hash: fakeHash(2), roleIds: ['r_2', 'r_1', 'r_1'], metadata: { z: 1, a: { y: 2, b: [{ d: 1, c: 2 }] } } }),
      key({ id: 'k_a', hash: fakeHash(1), roleIds: ['r_1'], expiresAt: new Date('2030-01-01T00:00:00Z') }),
      key({ id: 'k_revoked', hash: fakeHash(3), roleIds: ['r_1'], revokedAt: new Date('2024-01-01T00:00:00Z') }),
    ],
    servers: [
      server({
        id: 's_2',
        slug: 'github',
        transport: 'streamable-http',
        command: null,
        args: [],
        url: 'https://mcp.github.example/mcp',
        headers: { Authorization: { secret: 'GITHUB_TOKEN' }, 'X-Client': { value: 'toolgate' } },
        tags: ['scm', 'prod', 'scm'],
      }),
      server({ id: 's_1', slug: 'fs', env: { ROOT: { value: '/repo' }, TOKEN: { secret: 'FS_TOKEN' } }, args: ['--b', '--a'] }),
      server({ id: 's_3', slug: 'old', enabled: false, env: { X: { secret: 'OLD_ONLY' } } }),
    ],
    roles: [
      { id: 'r_2', name: 'writer', rules: { tools: [{ effect: 'allow', match: 'github__*' }] } },
      {
        id: 'r_1',
        name: 'reader',
        rules: {
          tools: [
            { effect: 'allow', match: 'github__list_*' },
            { effect: 'deny', match: 'github__list_secrets' },
          ],
          ipAllow: ['10.0.0.0/8'],
        },
      },
    ],
    secrets: { GITHUB_TOKEN: SEALED, FS_TOKEN: SEALED, OLD_ONLY: SEALED, UNUSED: SEALED },
  });
}

/** The same data with every list and record in a different order. */
function shuffledInput(): CompileInput {
  const input = fullInput();
  return {
    ...input,
    keys: [...input.keys]
      .reverse()
      .map((k) => ({ ...k, roleIds: [...k.roleIds].reverse(), metadata: reverseKeys(k.metadata) as Record<string, unknown> })),
    servers: [...input.servers]
      .reverse()
      .map((s) => ({ ...s, headers: reverseKeys(s.headers) as never, env: reverseKeys(s.env) as never, tags: [...s.tags].reverse() })),
    roles: [...input.roles].reverse(),
    secrets: reverseKeys(input.secrets) as Record<string, string>,
  };
}

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reverseKeys(v)]),
  );
}

describe('compile', () => {
  it('produces a valid snapshot with the org, plan and version', () => {
    const snapshot = compile(fullInput());
    expect(() => PolicySnapshot.parse(snapshot)).not.toThrow();
    expect(snapshot).toMatchObject({
      schemaVersion: 1,
      orgId: 'org_1',
      orgSlug: 'acme',
      version: 1,
      compiledAt: '2025-01-02T03:04:05.000Z',
      plan: { name: 'team', monthlyCallQuota: 100_000 },
    });
  });

  it('leaves out revoked keys but keeps expiring ones with expiresAt', () => {
    const { keys } = compile(fullInput());
    expect(keys.map((k) => k.id)).toEqual(['k_a', 'k_b']);
    expect(keys[0]?.expiresAt).toBe('2030-01-01T00:00:00.000Z');
    expect(keys[1]?.expiresAt).toBeNull();
  });

  it('sorts and de-duplicates role ids, dropping ids of roles that do not exist', () => {
    const input = fullInput();
    const snapshot = compile({ ...input, keys: [key({ id: 'k', roleIds: ['r_2', 'r_gone', 'r_1', 'r_2'] })] });
    expect(snapshot.keys[0]?.roleIds).toEqual(['r_1', 'r_2']);
  });

  it('leaves out disabled servers and their secrets, and unreferenced secrets', () => {
    const snapshot = compile(fullInput());
    expect(snapshot.servers.map((s) => s.slug)).toEqual(['fs', 'github']);
    expect(Object.keys(snapshot.secrets)).toEqual(['FS_TOKEN', 'GITHUB_TOKEN']);
    expect(snapshot.secrets.GITHUB_TOKEN).toBe(SEALED);
  });

  it('copies server fields, keeping args in order and sorting tags', () => {
    const github = compile(fullInput()).servers.find((s) => s.slug === 'github');
    expect(github).toEqual({
      id: 's_2',
      slug: 'github',
      name: 'github',
      transport: 'streamable-http',
      command: null,
      args: [],
      url: 'https://mcp.github.example/mcp',
      headers: { Authorization: { secret: 'GITHUB_TOKEN' }, 'X-Client': { value: 'toolgate' } },
      env: {},
      timeoutMs: 30_000,
      tags: ['prod', 'scm'],
      network: 'none',
      isolation: 'per-session',
    });
    expect(compile(fullInput()).servers.find((s) => s.slug === 'fs')?.args).toEqual(['--b', '--a']);
  });

  it("carries a stdio server's network policy, none when absent", () => {
    const snapshot = compile(baseInput({ servers: [server({ id: 'a', slug: 'a', network: 'egress' }), server({ id: 'b', slug: 'b' })] }));
    expect(snapshot.servers.map((s) => [s.slug, s.network])).toEqual([
      ['a', 'egress'],
      ['b', 'none'],
    ]);
  });

  it("carries each server's isolation, the transport's default when unset (per-key stdio, per-session HTTP)", () => {
    const snapshot = compile(
      baseInput({
        servers: [
          server({ id: 'a', slug: 'a' }),
          server({ id: 'b', slug: 'b', isolation: 'shared' }),
          server({ id: 'c', slug: 'c', transport: 'sse', command: null, args: [], url: 'https://x.example/sse', isolation: null }),
          server({
            id: 'd',
            slug: 'd',
            transport: 'streamable-http',
            command: null,
            args: [],
            url: 'https://x.example',
            isolation: 'per-key',
          }),
          // Prisma's spelling, as the API passes rows.
          server({ id: 'e', slug: 'e', isolation: 'per_session' }),
        ],
      }),
    );
    expect(snapshot.servers.map((s) => [s.slug, s.isolation])).toEqual([
      ['a', 'per-key'],
      ['b', 'shared'],
      ['c', 'per-session'],
      ['d', 'per-key'],
      ['e', 'per-session'],
    ]);
  });

  it("accepts Prisma's streamable_http spelling", () => {
    const snapshot = compile(
      baseInput({ servers: [server({ id: 's', slug: 'api', transport: 'streamable_http', url: 'https://x.example' })] }),
    );
    expect(snapshot.servers[0]?.transport).toBe('streamable-http');
  });

  it('parses role rules, applying defaults, and sorts roles by id', () => {
    const { roles } = compile(fullInput());
    expect(roles.map((r) => r.id)).toEqual(['r_1', 'r_2']);
    expect(roles[1]?.rules).toEqual({
      tools: [{ effect: 'allow', match: 'github__*' }],
      prompts: [],
      resources: [],
      rateLimits: [],
      redact: [],
      ipAllow: [],
    });
  });

  it('is deterministic: equal data in any order gives identical JSON', () => {
    const a = JSON.stringify(compile(fullInput()));
    const b = JSON.stringify(compile(shuffledInput()));
    expect(b).toBe(a);
    expect(JSON.stringify(compile(fullInput()))).toBe(a);
    // Nested metadata keys are canonical too.
    expect(JSON.stringify(compile(fullInput()).keys[1]?.metadata)).toBe('{"a":{"b":[{"c":2,"d":1}],"y":2},"z":1}');
  });

  it('keeps rule order inside a role (it decides which rule is reported)', () => {
    const { roles } = compile(fullInput());
    expect(roles[0]?.rules.tools.map((t) => t.match)).toEqual(['github__list_*', 'github__list_secrets']);
  });

  it('treats null metadata, headers and env as empty', () => {
    const snapshot = compile(
      baseInput({
        keys: [key({ id: 'k', metadata: null })],
        servers: [server({ id: 's', slug: 'fs', headers: null, env: undefined })],
      }),
    );
    expect(snapshot.keys[0]?.metadata).toEqual({});
    expect(snapshot.servers[0]).toMatchObject({ headers: {}, env: {} });
  });

  describe('errors', () => {
    it('names the server and the secret when a referenced secret does not exist', () => {
      const input = fullInput();
      const error = compileError({ ...input, secrets: { FS_TOKEN: SEALED } });
      expect(error).toBeInstanceOf(PolicyCompileError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('PolicyCompileError');
      expect(error.code).toBe('missing_secret');
      expect(error.message).toBe('server "github" references secret "GITHUB_TOKEN" (header Authorization), which does not exist');
      expect(error.details).toEqual({ server: 'github', secret: 'GITHUB_TOKEN' });
    });

    it('does not require secrets of disabled servers', () => {
      const input = fullInput();
      const { OLD_ONLY: _unused, ...secrets } = input.secrets;
      expect(() => compile({ ...input, secrets })).not.toThrow();
    });

    it('does not find secrets on the prototype', () => {
      const error = compileError(baseInput({ servers: [server({ id: 's', slug: 'fs', env: { X: { secret: 'toString' } } })] }));
      expect(error.code).toBe('missing_secret');
    });

    it('names the role with invalid rules and the problem', () => {
      const error = compileError(
        baseInput({ roles: [{ id: 'r', name: 'support', rules: { tools: [{ effect: 'allow', match: 'bad glob!' }] } }] }),
      );
      expect(error.code).toBe('invalid_role_rules');
      expect(error.message).toMatch(/^role "support" has invalid rules: tools\[0\]\.match: may only contain/);
      expect(compileError(baseInput({ roles: [{ id: 'r', name: 'x', rules: null }] })).code).toBe('invalid_role_rules');
      expect(compileError(baseInput({ roles: [{ id: 'r', name: 'x', rules: { unknown: [] } }] })).code).toBe('invalid_role_rules');
    });

    it('rejects ip allow-list entries that pass the loose schema check but are not addresses', () => {
      const error = compileError(baseInput({ roles: [{ id: 'r', name: 'ops', rules: { ipAllow: ['10.0.0.0/8', ':::::'] } }] }));
      expect(error.code).toBe('invalid_role_rules');
      expect(error.message).toBe('role "ops" has invalid rules: ipAllow[1]: ":::::" is not a valid IP address or CIDR block');
    });

    it('rejects invalid server headers/env', () => {
      const error = compileError(baseInput({ servers: [server({ id: 's', slug: 'fs', env: { X: 'plain' } as never })] }));
      expect(error.code).toBe('invalid_server');
      expect(error.message).toBe('server "fs" has an invalid env entry "X": expected {value} or {secret}');
    });

    it('rejects duplicate enabled server slugs and duplicate key hashes', () => {
      expect(compileError(baseInput({ servers: [server({ id: 'a', slug: 'fs' }), server({ id: 'b', slug: 'fs' })] })).code).toBe(
        'duplicate',
      );
      expect(() =>
        compile(baseInput({ servers: [server({ id: 'a', slug: 'fs' }), server({ id: 'b', slug: 'fs', enabled: false })] })),
      ).not.toThrow();
      const error = compileError(baseInput({ keys: [key({ id: 'a', name: 'one' }), key({ id: 'b', name: 'two' })] }));
      expect(error.message).toBe('keys "one" and "two" have the same hash');
    });

    it('reports schema violations naming the record', () => {
      const error = compileError(baseInput({ keys: [key({ id: 'k', name: 'ci-bot', hash: 'not-hex' })] }));
      expect(error.code).toBe('invalid_snapshot');
      expect(error.message).toMatch(/^the compiled snapshot is invalid: key "ci-bot"\.hash: /);
      expect(compileError(baseInput({ version: 0 })).code).toBe('invalid_snapshot');
      expect(
        compileError(baseInput({ secrets: { S: 'plaintext!' }, servers: [server({ id: 's', slug: 'fs', env: { S: { secret: 'S' } } })] }))
          .message,
      ).toMatch(/secrets\.S/);
    });

    it('rejects invalid dates and non-object metadata', () => {
      expect(compileError(baseInput({ compiledAt: new Date(Number.NaN) })).message).toBe('compiledAt is not a valid date');
      expect(compileError(baseInput({ keys: [key({ id: 'k', name: 'bot', metadata: [1] as never })] })).message).toBe(
        'key "bot" has metadata that is not a JSON object',
      );
    });
  });
});
