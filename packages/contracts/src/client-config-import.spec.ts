// biome-ignore-all lint/suspicious/noTemplateCurlyInString: client configs write placeholders such as ${input:id} in plain strings.
import { looksLikeCredential, parseClientConfig, registration, slugFrom, stripJsonComments } from './client-config-import';

const ok = (text: string, existing: string[] = []) => {
  const r = parseClientConfig(text, existing);
  if (!r.ok) throw new Error(r.error);
  return r;
};

describe('parseClientConfig', () => {
  it('reads a Claude Desktop config: stdio servers, credentials into secrets, plain values kept', () => {
    const r = ok(
      JSON.stringify({
        mcpServers: {
          GitHub: {
            command: 'npx',
            args: ['-y', '@modelcontextprotocol/server-github'],
            env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', LOG_LEVEL: 'debug' },
          },
          'Local files': { command: 'node', args: ['/srv/files.js', 3] },
        },
      }),
    );
    expect(r.format).toBe('mcpServers');
    const [gh, files] = r.servers;
    expect(gh).toMatchObject({ key: 'GitHub', slug: 'github', name: 'GitHub', transport: 'stdio', command: 'npx', problems: [] });
    expect(gh!.env).toEqual({
      GITHUB_PERSONAL_ACCESS_TOKEN: {
        kind: 'secret',
        secret: 'GITHUB_PERSONAL_ACCESS_TOKEN',
        value: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      },
      LOG_LEVEL: { kind: 'plain', value: 'debug' },
    });
    expect(files).toMatchObject({ slug: 'local-files', args: ['/srv/files.js', '3'] });

    const reg = registration(gh!);
    expect(reg.body).toEqual({
      slug: 'github',
      name: 'GitHub',
      transport: 'stdio',
      enabled: true,
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-github'],
      env: { GITHUB_PERSONAL_ACCESS_TOKEN: { secret: 'GITHUB_PERSONAL_ACCESS_TOKEN' }, LOG_LEVEL: { value: 'debug' } },
    });
    expect(reg.secrets).toEqual([{ name: 'GITHUB_PERSONAL_ACCESS_TOKEN', value: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789' }]);
    // The credential is nowhere in the server's own config.
    expect(JSON.stringify(reg.body)).not.toContain('ghp_');
  });

  it('reads VS Code mcp.json with comments, trailing commas, types and ${input:…} placeholders', () => {
    const r = ok(
      `{
        // VS Code keeps comments
        "inputs": [{ "type": "promptString", "id": "api-key", "password": true }],
        "servers": {
          "weather": { "type": "http", "url": "https://weather.example/mcp", "headers": { "Authorization": "Bearer \${input:api-key}", "X-Region": "eu" }, },
          /* an SSE one */
          "legacy": { "type": "sse", "url": "https://legacy.example/events" },
          "memory": { "type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "envFile": "\${workspaceFolder}/.env" },
        },
      }`,
    );
    expect(r.format).toBe('vscode');
    const [weather, legacy, memory] = r.servers;
    expect(weather).toMatchObject({ transport: 'streamable-http', url: 'https://weather.example/mcp', problems: [] });
    // The client builds `Bearer <input>` at run time: the whole value is one secret to fill in, named after the header.
    expect(weather!.headers.Authorization).toEqual({
      kind: 'placeholder',
      secret: 'WEATHER_AUTHORIZATION',
      placeholder: 'Bearer ${input:api-key}',
      exists: false,
    });
    expect(weather!.headers['X-Region']).toEqual({ kind: 'plain', value: 'eu' });
    expect(legacy).toMatchObject({ transport: 'sse', url: 'https://legacy.example/events' });
    expect(memory).toMatchObject({ transport: 'stdio', command: 'npx' });
    expect(memory!.notes.join(' ')).toMatch(/envFile/);
  });

  it('turns a whole-value placeholder into a secret reference, known or missing', () => {
    const r = ok(
      JSON.stringify({
        servers: {
          a: { command: 'npx', args: ['a'], env: { TOKEN: '${input:github_token}', OTHER: '${env:SHARED_KEY}' } },
          b: { command: 'npx', args: ['b'], env: { K: '$SHARED_KEY' } },
        },
      }),
      ['SHARED_KEY'],
    );
    const [a, b] = r.servers;
    expect(a!.env.TOKEN).toEqual({ kind: 'placeholder', secret: 'GITHUB_TOKEN', placeholder: '${input:github_token}', exists: false });
    expect(a!.env.OTHER).toMatchObject({ kind: 'placeholder', secret: 'SHARED_KEY', exists: true });
    expect(b!.env.K).toMatchObject({ kind: 'placeholder', secret: 'SHARED_KEY', exists: true });
    const reg = registration(a!);
    expect(reg.missing).toEqual(['GITHUB_TOKEN']);
    expect(reg.secrets).toEqual([]);
    expect(reg.body.env).toEqual({ TOKEN: { secret: 'GITHUB_TOKEN' }, OTHER: { secret: 'SHARED_KEY' } });
  });

  it('never replaces an existing org secret or one chosen for another server', () => {
    const r = ok(
      JSON.stringify({
        mcpServers: {
          one: { command: 'npx', args: ['x'], env: { API_KEY: 'aaaa' } },
          two: { command: 'npx', args: ['y'], env: { API_KEY: 'bbbb' } },
          three: { command: 'npx', args: ['z'], env: { API_KEY: 'cccc' } },
        },
      }),
      ['API_KEY', 'THREE_API_KEY'],
    );
    const names = r.servers.map((s) => (s.env.API_KEY as { secret: string }).secret);
    expect(names).toEqual(['ONE_API_KEY', 'TWO_API_KEY', 'THREE_API_KEY_2']);
  });

  it('registers mcp-remote wrappers as the remote server, with their headers as secrets', () => {
    const r = ok(
      JSON.stringify({
        mcpServers: {
          remote: {
            command: 'npx',
            args: ['-y', 'mcp-remote', 'https://tools.example/sse', '--header', 'Authorization:Bearer abc', '--transport', 'sse-only'],
          },
        },
      }),
    );
    expect(r.servers[0]).toMatchObject({ transport: 'sse', url: 'https://tools.example/sse', command: null });
    expect(r.servers[0]!.headers.Authorization).toMatchObject({ kind: 'secret', value: 'Bearer abc' });
  });

  it('flags credential-looking values under innocent names', () => {
    const r = ok(JSON.stringify({ mcpServers: { s: { command: 'node', args: ['s.js'], env: { DSN: 'Zx81kQ2mP9vL0aB7cD3eF6gH4jK5' } } } }));
    expect(r.servers[0]!.env.DSN).toMatchObject({ kind: 'secret', secret: 'DSN' });
  });

  it('makes slugs the API accepts and unique within the file', () => {
    const r = ok(JSON.stringify({ mcpServers: { 'My Server!': { command: 'a' }, 'my server': { command: 'b' }, x: { command: 'c' } } }));
    expect(r.servers.map((s) => s.slug)).toEqual(['my-server', 'my-server-2', 'x-server']);
    expect(slugFrom('Ünïcode__Name--here')).toBe('unicode-name-here');
    expect(slugFrom('!!!')).toBe('server');
    expect(slugFrom('a'.repeat(60))).toHaveLength(40);
  });

  it('marks entries it cannot register, per row, and keeps the rest', () => {
    const r = ok(
      JSON.stringify({
        mcpServers: {
          good: { command: 'npx', args: ['ok'] },
          nothing: {},
          notObject: 'npx foo',
          badUrl: { url: 'ftp://files.example' },
          creds: { url: 'https://user:pw@x.example/mcp' },
          noUrl: { type: 'http' },
          badArgs: { command: 'npx', args: [{ a: 1 }] },
          badEnv: { command: 'npx', env: { A: { nested: true } } },
        },
      }),
    );
    const problems = Object.fromEntries(r.servers.map((s) => [s.key, s.problems.join(' ')]));
    expect(problems.good).toBe('');
    expect(problems.nothing).toMatch(/Neither a "command"/);
    expect(problems.notObject).toMatch(/not an object/);
    expect(problems.badUrl).toMatch(/not an http\(s\) URL/);
    expect(problems.creds).toMatch(/credentials/);
    expect(problems.noUrl).toMatch(/needs a "url"/);
    expect(problems.badArgs).toMatch(/"args" must be a list of strings/);
    expect(problems.badEnv).toMatch(/"env.A" must be a string/);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['{ "mcpServers": ', /not valid JSON/],
    ['[1, 2]', /JSON object/],
    ['"text"', /JSON object/],
    ['{"other": {}}', /No server list found/],
    ['{"mcpServers": {}}', /empty/],
    ['{"mcpServers": []}', /No server list found/],
  ])('refuses malformed input %j with a clear error', (text, error) => {
    const r = parseClientConfig(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });

  it('refuses files too large or with too many servers', () => {
    expect(parseClientConfig(' '.repeat(1_000_001))).toMatchObject({ ok: false, error: expect.stringMatching(/1 MB/) });
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`s${i}`, { command: 'x' }]));
    expect(parseClientConfig(JSON.stringify({ mcpServers: many }))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/more than 100/),
    });
  });

  it('keeps a disabled entry, registered disabled', () => {
    const r = ok(JSON.stringify({ mcpServers: { off: { command: 'npx', disabled: true } } }));
    expect(r.servers[0]).toMatchObject({ enabled: false });
    expect(registration(r.servers[0]!).body.enabled).toBe(false);
  });
});

describe('stripJsonComments', () => {
  it('drops comments and trailing commas but never touches strings', () => {
    const src = '{ "a": "http://x//y /* z */", // c\n "b": [1, 2, ], /* d */ "c": ",}" , }';
    expect(JSON.parse(stripJsonComments(src))).toEqual({ a: 'http://x//y /* z */', b: [1, 2], c: ',}' });
  });

  it('keeps escaped quotes inside strings', () => {
    expect(JSON.parse(stripJsonComments('{"a": "say \\"//hi\\"" // x\n}'))).toEqual({ a: 'say "//hi"' });
  });
});

describe('looksLikeCredential', () => {
  it.each([
    ['sk-proj-abc', true],
    ['xoxb-123-456', true],
    ['AKIAIOSFODNN7EXAMPLE', true],
    ['Zx81kQ2mP9vL0aB7cD3eF6gH4jK5', true],
    ['debug', false],
    ['/home/me/projects/with/a/long/path/name', false],
    ['https://example.com/some/long/path/123', false],
    ['production-environment-name', false],
  ])('%s → %s', (v, yes) => {
    expect(looksLikeCredential(v)).toBe(yes);
  });
});
