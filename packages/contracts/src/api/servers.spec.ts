import { CreateServerRequest, transportIssues, UpdateServerRequest } from './servers';

const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

const stdio = { slug: 'everything', name: 'Everything', transport: 'stdio', command: 'npx', args: ['-y', 'x'] };

describe('CreateServerRequest', () => {
  it('accepts a stdio server and an HTTP server', () => {
    expect(CreateServerRequest.safeParse(stdio).success).toBe(true);
    expect(CreateServerRequest.safeParse({ slug: 'remote', name: 'R', transport: 'sse', url: 'https://x.test/sse' }).success).toBe(true);
  });

  it('lists the transport rules as field errors', () => {
    expect(issues(CreateServerRequest.safeParse({ slug: 'a1', name: 'A', transport: 'stdio' }))).toEqual([
      'command: is required for the stdio transport',
    ]);
    expect(
      issues(CreateServerRequest.safeParse({ slug: 'a1', name: 'A', transport: 'streamable-http', command: 'npx', network: 'egress' })),
    ).toEqual([
      'url: is required for the streamable-http transport',
      'command: is not allowed for the streamable-http transport (it connects to url)',
      'network: must be none for the streamable-http transport (the gateway itself connects to url; only stdio servers run in a sandbox)',
    ]);
  });

  it('refuses headers the gateway owns, bad names, control characters and credentials in the URL', () => {
    const r = CreateServerRequest.safeParse({
      slug: 'remote',
      name: 'R',
      transport: 'streamable-http',
      url: 'https://user:pw@x.test/mcp',
      headers: { Host: { value: 'evil' }, 'X-A': { value: 'a\r\nB: c' }, 'Bad Name': { value: 'x' } },
    });
    expect(issues(r)).toEqual([
      'url: must not contain credentials; put them in a header that references a secret',
      'headers.Host: cannot be set: the gateway manages the Host header',
      'headers.X-A.value: must not contain control characters or line breaks',
      "headers.Bad Name: is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)",
    ]);
  });

  it('names the env entry and the value source that is wrong', () => {
    const r = CreateServerRequest.safeParse({
      ...stdio,
      env: { '1BAD': { value: 'x' }, TOKEN: { secret: '' }, BIG: { value: 'x'.repeat(8193) } },
    });
    expect(issues(r)).toEqual([
      'env.TOKEN.secret: must name a secret',
      'env.BIG.value: must be at most 8192 characters',
      'env.1BAD: is not a valid environment variable name (letters, digits and _, not starting with a digit)',
    ]);
  });

  it('refuses unknown fields, duplicate tags and a timeout out of range', () => {
    const r = CreateServerRequest.safeParse({ ...stdio, tags: ['a', 'a'], timeoutMs: 999, extra: 1 });
    expect(issues(r)).toEqual([
      'tags: must not contain duplicates',
      'timeoutMs: must be at least 1000 (1 second)',
      ': Unrecognized key: "extra"',
    ]);
  });
});

describe('UpdateServerRequest', () => {
  it('refuses an empty patch and accepts clearing fields with null', () => {
    expect(issues(UpdateServerRequest.safeParse({}))).toEqual([': nothing to update']);
    expect(UpdateServerRequest.safeParse({ description: null, url: null, command: null, isolation: null }).success).toBe(true);
  });
});

describe('transportIssues', () => {
  it('is empty for a consistent config', () => {
    const base = { command: null, args: [], network: 'none' as const, url: 'https://x.test', headers: {}, env: {} };
    expect(transportIssues({ ...base, transport: 'sse' })).toEqual([]);
    expect(transportIssues({ ...base, transport: 'stdio', url: null, command: 'npx' })).toEqual([]);
  });
});
