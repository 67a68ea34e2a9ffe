/**
 * The management commands as a user runs them (a real `toolgate` process) against the real
 * platform: API, a gateway worker and the event consumers, on a database of this file's own.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connect, EVERYTHING } from '../../gateway/test/harness';
import { startFaultyProxy } from './faulty-proxy';
import { cli, type CliResult, Person, type Platform, startPlatform, tempDir, until } from './platform';

jest.setTimeout(240_000);

let platform: Platform;
let person: Person;
let org: string;
/** The logged-in user's config home. */
const home = tempDir('cli-home');
const files = tempDir('cli-files');
const run = (args: string[], opts?: Parameters<typeof cli>[2]) => cli(home, args, opts);

/** The parsed `--json` document of a run that must have succeeded. */
function ok(r: CliResult) {
  if (r.status !== 0) throw new Error(`exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  expect(r.json).toBeDefined();
  return r.json;
}

const policy = (name: string, yaml: string) => {
  const file = path.join(files, name);
  writeFileSync(file, yaml);
  return file;
};

const POLICY = `version: 1
roles:
  developer:
    description: Coding agents
    rules:
      tools:
        - effect: deny
          match: "everything__get-env"
        - effect: allow
          match: "everything__*"
  reader:
    rules:
      tools:
        - { effect: allow, match: "*__read_*" }
`;

/** The same roles with keys reordered, defaults spelled out and flow style: not a change. */
const POLICY_RESTYLED = `roles:
  reader:
    rules: { prompts: [], tools: [{ match: "*__read_*", effect: allow }], ipAllow: [] }
  developer:
    rules:
      resources: []
      tools:
        - { match: "everything__get-env", effect: deny }
        - { match: "everything__*", effect: allow }
    description: "Coding agents  "
version: 1
`;

beforeAll(async () => {
  platform = await startPlatform();
  person = await new Person(platform.apiUrl).signupWithOrg();
  org = person.org;
});
afterAll(async () => {
  await platform?.close();
});

describe('login, logout, orgs', () => {
  it('refuses a token the API does not know with exit 3, storing nothing', async () => {
    const r = await run(['login', '--api', platform.apiUrl, '--json'], { input: 'tgm_not_a_real_token_0123456789\n' });
    expect(r.status).toBe(3);
    expect(r.json.error).toMatchObject({ exitCode: 3, status: 401, code: 'unauthenticated' });
    expect((await run(['orgs', '--json'])).status).toBe(3);
  });

  it('logs in with a token on stdin, stores it readable by its owner only, and lists the one org', async () => {
    const token = await person.personalToken();
    const login = ok(await run(['login', '--api', platform.apiUrl, '--json'], { input: `${token}\n` }));
    expect(login.orgs.map((o: { slug: string }) => o.slug)).toEqual([org]);
    expect(login.file).toBe(path.join(home, 'toolgate', 'config.json'));
    expect(statSync(login.file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(login.file, 'utf8'))).toEqual({ api: platform.apiUrl, token });

    const orgs = ok(await run(['orgs', '--json']));
    expect(orgs.items).toEqual([expect.objectContaining({ slug: org, role: 'owner' })]);
    const human = await run(['orgs']);
    expect(human.stdout).toMatch(new RegExp(`^SLUG\\s+NAME\\s+ROLE\\n${org}\\s+CLI test\\s+owner`));
  });

  it("takes a service account token from --token-env: finds the one org it is bound to, or stores a named one beside connect's agent keys", async () => {
    const other = tempDir('cli-sa');
    const { token } = await person.serviceToken();
    const file = path.join(other, 'toolgate', 'config.json');
    const agentKeys = { 'http://127.0.0.1:1/mcp': 'tg_agent_key_kept_across_login' };
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ agentKeys }), { mode: 0o600 });
    const unnamed = await cli(other, ['login', '--api', platform.apiUrl, '--token-env', 'CI_TOKEN', '--json'], {
      env: { CI_TOKEN: token },
    });
    expect(ok(unnamed).orgs).toEqual([expect.objectContaining({ slug: org })]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ agentKeys, api: platform.apiUrl, token });
    expect(ok(await cli(other, ['roles', 'ls', '--json'])).org).toBe(org);

    ok(
      await cli(other, ['login', '--api', platform.apiUrl, '--token-env', 'CI_TOKEN', '--org', org, '--json'], {
        env: { CI_TOKEN: token },
      }),
    );
    expect(ok(await cli(other, ['orgs', '--json'])).items).toEqual([expect.objectContaining({ slug: org })]);
    expect(ok(await cli(other, ['roles', 'ls', '--json'])).org).toBe(org);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ agentKeys, api: platform.apiUrl, token, org });

    ok(await cli(other, ['logout', '--json']));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ agentKeys });
    expect((await cli(other, ['orgs', '--json'])).status).toBe(3);
  });

  it('refuses bad login input with exit 2: no --api, no token, not a management token; and a damaged config file', async () => {
    const other = tempDir('cli-bad');
    const noApi = await cli(other, ['login', '--json'], { input: 'tgm_x' });
    expect(noApi.status).toBe(2);
    expect(noApi.json.error.message).toMatch(/--api URL/);
    expect((await cli(other, ['login', '--api', platform.apiUrl, '--json'], { input: '' })).json.error.message).toMatch(
      /no token on stdin/,
    );
    const jwt = await cli(other, ['login', '--api', platform.apiUrl, '--json'], { input: person.token });
    expect(jwt.status).toBe(2);
    expect(jwt.json.error.message).toMatch(/management token \(tgm_/);
    expect((await cli(other, ['login', '--api', platform.apiUrl, '--token-env', 'UNSET_VAR'])).status).toBe(2);

    mkdirSync(path.join(other, 'toolgate'), { recursive: true });
    writeFileSync(path.join(other, 'toolgate', 'config.json'), '{"api": ');
    const damaged = await cli(other, ['orgs', '--json']);
    expect(damaged.status).toBe(2);
    expect(damaged.json.error.message).toMatch(/config\.json: not valid JSON .*; run toolgate login again/);
  });

  it('needs --org when the credentials see several orgs (exit 2), and answers no org at all with exit 4', async () => {
    const busy = await new Person(platform.apiUrl).signupWithOrg();
    const second = await busy.createOrg();
    const env = { TOOLGATE_API: platform.apiUrl, TOOLGATE_TOKEN: busy.token };
    const several = await cli(tempDir('cli-env'), ['servers', 'ls', '--json'], { env });
    expect(several.status).toBe(2);
    expect(several.json.error.message).toContain(`(${[busy.org, second].sort().join(', ')}); pick one with --org SLUG`);
    expect(ok(await cli(tempDir('cli-env'), ['servers', 'ls', '--org', second, '--json'], { env })).org).toBe(second);
    expect((await cli(tempDir('cli-env'), ['servers', 'ls', '--org', 'not-my-org', '--json'], { env })).status).toBe(4);

    const lonely = await new Person(platform.apiUrl).signup();
    const none = await cli(tempDir('cli-env'), ['servers', 'ls', '--json'], {
      env: { TOOLGATE_API: platform.apiUrl, TOOLGATE_TOKEN: lonely.token },
    });
    expect(none.status).toBe(4);
    expect(none.json.error.code).toBe('no_org');
  });

  it('answers a revoked token with exit 3 and says so', async () => {
    const { token, id } = await person.serviceToken();
    const env = { TOOLGATE_API: platform.apiUrl, TOOLGATE_TOKEN: token, TOOLGATE_ORG: org };
    ok(await cli(tempDir('cli-env'), ['servers', 'ls', '--json'], { env }));
    await person.call('DELETE', `/v1/orgs/${org}/tokens/${id}`);
    const r = await cli(tempDir('cli-env'), ['servers', 'ls', '--json'], { env });
    expect(r.status).toBe(3);
    expect(r.json.error).toMatchObject({ code: 'token_revoked', status: 401 });
    expect(r.stderr).toMatch(/revoked/);
  });

  it('answers a token whose scopes do not allow the change with exit 3', async () => {
    const { token } = await person.serviceToken(['read']);
    const env = { TOOLGATE_API: platform.apiUrl, TOOLGATE_TOKEN: token, TOOLGATE_ORG: org };
    const r = await cli(tempDir('cli-env'), ['servers', 'add', 'nope', '--url', 'https://example.com/mcp', '--json'], { env });
    expect(r.status).toBe(3);
    expect(r.json.error).toMatchObject({ status: 403, code: 'insufficient_scope' });
  });

  it('answers an unreachable API with exit 1', async () => {
    const r = await cli(tempDir('cli-env'), ['orgs', '--json'], { env: { TOOLGATE_API: 'http://127.0.0.1:9', TOOLGATE_TOKEN: 'tgm_x' } });
    expect(r.status).toBe(1);
    expect(r.json.error).toMatchObject({ code: 'unreachable' });
  });
});

describe('servers', () => {
  it('adds, probes (through a real gateway worker) and lists a stdio server', async () => {
    const added = ok(
      await run(['servers', 'add', 'everything', '--command', process.execPath, '--arg', EVERYTHING, '--arg', 'stdio', '--json']),
    );
    expect(added).toMatchObject({ slug: 'everything', transport: 'stdio', args: [EVERYTHING, 'stdio'] });

    const probed = ok(await run(['servers', 'probe', 'everything', '--json']));
    expect(probed.health).toBe('ok');
    expect(probed.catalog.tools.map((t: { name: string }) => t.name)).toContain('echo');

    const listed = ok(await run(['servers', 'ls', '--json']));
    expect(listed.items).toEqual([expect.objectContaining({ slug: 'everything', health: 'ok' })]);
    expect((await run(['servers', 'ls'])).stdout).toMatch(/^everything\s+stdio\s+yes\s+ok\s+\d+\s+http/m);
  });

  it('refuses an invalid server before sending it (exit 2, the field named), and a duplicate slug from the API (exit 2)', async () => {
    const bad = await run(['servers', 'add', 'web', '--url', 'https://user:pw@example.com/mcp', '--json']);
    expect(bad.status).toBe(2);
    expect(bad.json.error.errors).toEqual([expect.objectContaining({ path: 'url' })]);
    expect((await run(['servers', 'add', 'web', '--command', 'x', '--url', 'https://example.com', '--json'])).status).toBe(2);
    const noValue = await run(['servers', 'add', 'web', '--url', 'https://example.com/mcp', '--header', 'Authorization', '--json']);
    expect(noValue.status).toBe(2);
    expect(noValue.json.error.message).toMatch(/--header takes NAME=VALUE/);
    const dup = await run(['servers', 'add', 'everything', '--url', 'https://example.com/mcp', '--json']);
    expect(dup.status).toBe(2);
    expect(dup.json.error).toMatchObject({ status: 409 });
  });

  it('answers an unknown server with exit 4 (probe and rm), and removes a known one', async () => {
    for (const sub of ['probe', 'rm']) {
      const r = await run(['servers', sub, 'no-such-server', '--json']);
      expect(r.status).toBe(4);
      expect(r.json.error).toMatchObject({ exitCode: 4, code: 'not_found' });
    }
    const sse = [
      'servers',
      'add',
      'temp',
      '--url',
      'https://example.com/mcp',
      '--transport',
      'sse',
      '--header-secret',
      'Authorization=UPSTREAM_TOKEN',
    ];
    // The API refuses a reference to a secret the org does not have: bad input, the field named once.
    const missing = await run([...sse, '--json']);
    expect(missing.status).toBe(2);
    expect(missing.json.error).toMatchObject({
      status: 400,
      errors: [{ path: 'headers.Authorization.secret', message: expect.any(String) }],
    });
    expect(missing.stderr.match(/headers\.Authorization\.secret/g)).toHaveLength(1);
    await person.call('PUT', `/v1/orgs/${org}/secrets/UPSTREAM_TOKEN`, { value: 'sk-upstream' });
    const temp = ok(
      await run([
        'servers',
        'add',
        'temp',
        '--url',
        'https://example.com/mcp',
        '--transport',
        'sse',
        '--header',
        'X-Team=cli',
        '--header-secret',
        'Authorization=UPSTREAM_TOKEN',
        '--tag',
        'test',
        '--json',
      ]),
    );
    expect(temp).toMatchObject({
      transport: 'sse',
      headers: { 'X-Team': { value: 'cli' }, Authorization: { secret: 'UPSTREAM_TOKEN' } },
      tags: ['test'],
    });
    expect(ok(await run(['servers', 'rm', 'temp', '--json']))).toEqual({ removed: { id: expect.any(String), slug: 'temp' } });
    expect(ok(await run(['servers', 'ls', '--json'])).items.map((s: { slug: string }) => s.slug)).toEqual(['everything']);
  });
});

describe('roles apply', () => {
  const names = async () =>
    ok(await run(['roles', 'ls', '--json']))
      .items.map((r: { name: string }) => r.name)
      .sort();

  it('--dry-run shows the plan and changes nothing', async () => {
    const plan = ok(await run(['roles', 'apply', '-f', policy('p1.yaml', POLICY), '--dry-run', '--json']));
    expect(plan).toMatchObject({ dryRun: true, applied: false, changed: 2 });
    expect(plan.changes).toEqual([
      { action: 'create', name: 'developer' },
      { action: 'create', name: 'reader' },
    ]);
    expect(await names()).toEqual([]);
  });

  it('applies the file, and applying it again (or restyled) is a no-op', async () => {
    const file = policy('p1.yaml', POLICY);
    expect(ok(await run(['roles', 'apply', '-f', file, '--json']))).toMatchObject({ applied: true, changed: 2 });
    expect(await names()).toEqual(['developer', 'reader']);

    const again = await run(['roles', 'apply', '-f', file]);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^= unchanged developer\n= unchanged reader\nno changes/);
    const restyled = ok(await run(['roles', 'apply', '-f', policy('p2.yaml', POLICY_RESTYLED), '--json']));
    expect(restyled).toMatchObject({ applied: false, changed: 0 });
  });

  it('shows an update as changed lines, and --prune deletes roles the file leaves out', async () => {
    const changed = policy('p3.yaml', POLICY.replace('"*__read_*"', '"*__list_*"').replace(/ {2}reader:[\s\S]*$/, ''));
    const dry = await run(['roles', 'apply', '-f', changed, '--prune', '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain('= unchanged developer');
    expect(dry.stdout).toContain('- delete reader');
    expect(dry.stdout).toMatch(/dry run: 1 change/);

    const edited = policy('p4.yaml', POLICY.replace('"everything__*"', '"everything__echo"'));
    const plan = ok(await run(['roles', 'apply', '-f', edited, '--json']));
    expect(plan.changes[0]).toEqual({
      action: 'update',
      name: 'developer',
      diff: ['-         "match": "everything__*"', '+         "match": "everything__echo"'],
    });
    ok(await run(['roles', 'apply', '-f', policy('p1.yaml', POLICY), '--json']));
  });

  it('refuses an invalid policy file with file:line errors and exit 2, sending nothing', async () => {
    const file = policy(
      'bad.yaml',
      `roles:
  developer:
    rules:
      tools:
        - effect: permit
          match: "everything__*"
  Bad Name:
    rules: {}
`,
    );
    const r = await run(['roles', 'apply', '-f', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${file}:5:`);
    expect(r.stderr).toMatch(/roles\.developer\.rules\.tools\.0\.effect/);
    expect(r.stderr).toContain(`${file}:7:`);
    const syntax = await run(['roles', 'apply', '-f', policy('syntax.yaml', 'roles:\n  a: [\n'), '--json']);
    expect(syntax.status).toBe(2);
    expect(syntax.json.error.problems[0]).toMatchObject({ file: path.join(files, 'syntax.yaml'), line: expect.any(Number) });
    expect((await run(['roles', 'apply', '-f', path.join(files, 'missing.yaml')])).status).toBe(2);
    expect((await run(['roles', 'apply'])).status).toBe(2);
  });
});

describe('keys, and what the gateway records of their use', () => {
  let secret: string;

  it('creates a key holding roles by name (secret shown once), lists, rotates and revokes', async () => {
    const created = ok(await run(['keys', 'create', 'agent', '--role', 'developer', '--metadata', 'team=cli', '--json']));
    expect(created).toMatchObject({ name: 'agent', status: 'active', roles: [{ name: 'developer' }], metadata: { team: 'cli' } });
    expect(created.key).toMatch(/^tg_/);
    const human = await run(['keys', 'create', 'spare']);
    expect(human.stdout).toMatch(/\ntg_\S+\n$/);
    expect(human.stderr).toMatch(/shown once/);

    const rotated = ok(await run(['keys', 'rotate', 'agent', '--json']));
    expect(rotated.key).not.toBe(created.key);
    secret = rotated.key;
    const listed = ok(await run(['keys', 'ls', '--json'])).items;
    expect(listed.find((k: { id: string }) => k.id === created.id).status).toBe('revoked');

    const spare = listed.find((k: { name: string }) => k.name === 'spare');
    expect(ok(await run(['keys', 'revoke', spare.prefix, '--json']))).toEqual({
      revoked: { id: spare.id, name: 'spare', prefix: spare.prefix },
    });
    expect((await run(['keys', 'revoke', 'no-such-key', '--json'])).status).toBe(4);
    expect((await run(['keys', 'create', 'x', '--role', 'no-such-role', '--json'])).status).toBe(4);
    expect((await run(['keys', 'create', 'x', '--metadata', 'novalue', '--json'])).status).toBe(2);
    ok(await run(['keys', 'create', 'twin', '--json']));
    ok(await run(['keys', 'create', 'twin', '--json']));
    const twins = await run(['keys', 'revoke', 'twin', '--json']);
    expect(twins.status).toBe(2);
    expect(twins.json.error.message).toMatch(/2 keys are named "twin"; use the prefix: tg_/);
  });

  it('audit tail shows the calls made with the key, and --follow streams new ones', async () => {
    const client: Client = await until('the gateway to know the key', async () =>
      connect(`${platform.stack.gatewayUrl}/mcp/${org}`, secret).catch(() => null),
    );
    await client.callTool({ name: 'everything__echo', arguments: { message: 'from the cli test' } });
    await client.callTool({ name: 'everything__get-env', arguments: {} }).catch(() => undefined);
    await client.close();
    await until('the calls in the audit chain', async () => {
      const page = await person.call(`GET`, `/v1/orgs/${org}/audit?method=tools%2Fcall`);
      return page.items.length >= 2;
    });

    const tail = ok(await run(['audit', 'tail', '--since', '1h', '--limit', '200', '--json']));
    const calls = tail.items.filter((e: { kind: string }) => e.kind === 'call');
    expect(calls.map((e: { target: string; decision: string }) => [e.target, e.decision])).toEqual(
      expect.arrayContaining([
        ['echo', 'allow'],
        ['get-env', 'deny'],
      ]),
    );
    const seqs = tail.items.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect((await run(['audit', 'tail', '--since', 'yesterday'])).status).toBe(2);
    expect((await run(['audit', 'tail', '--since', '1h', '-n', '200'])).stdout).toMatch(
      /^\S+Z {2}#\d+ {2}call {2}tools\/call {2}get-env {2}deny {2}denied {2}key [0-9a-f]{8} {2}\d+ms$/m,
    );

    // --follow: NDJSON lines; a call made while it runs shows up.
    const { spawn } = await import('node:child_process');
    const child = spawn(
      process.execPath,
      [path.join(__dirname, '../bin/toolgate.js'), 'audit', 'tail', '--follow', '--limit', '1', '--interval', '1', '--json'],
      {
        env: { ...process.env, XDG_CONFIG_HOME: home },
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    try {
      await until('the first line', async () => out.includes('\n'));
      const first = JSON.parse(out.split('\n')[0]!);
      const again = await connect(`${platform.stack.gatewayUrl}/mcp/${org}`, secret);
      await again.callTool({ name: 'everything__echo', arguments: { message: 'while following' } });
      await again.close();
      const line = await until(
        'the new event',
        async () =>
          out
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
            .find((e) => e.target === 'echo' && e.seq > first.seq),
        45_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\nstdout: ${out}\nstderr: ${err}`);
      });
      expect(line).toMatchObject({ method: 'tools/call', target: 'echo', decision: 'allow' });
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('usage counts the calls of the month', async () => {
    const usage = await until('the usage roll-up', async () => {
      const u = ok(await run(['usage', '--json']));
      return u.totals.calls >= 2 ? u : null;
    });
    expect(usage).toMatchObject({ org, groupBy: 'day', totals: { denied: expect.any(Number) } });
    expect(usage.totals.denied).toBeGreaterThanOrEqual(1);
    const byTool = ok(await run(['usage', '--group-by', 'tool', '--json']));
    expect(byTool.series.map((r: { tool: string }) => r.tool)).toContain('echo');
    expect((await run(['usage'])).stdout).toMatch(
      new RegExp(`^${org} \\d{4}-\\d{2}: \\d+ calls.*\\nDAY +CALLS +BILLABLE +DENIED +ERRORS\\n\\d{4}-\\d{2}-\\d{2} +\\d+`),
    );
    expect((await run(['usage', '--group-by', 'tool'])).stdout).toMatch(/^everything__get-env +1 +0 +1 +0$/m);
    expect(ok(await run(['usage', '--month', '2020-01', '--json'])).totals.calls).toBe(0);
    expect((await run(['usage', '--month', '2026-13', '--json'])).status).toBe(2);
    expect((await run(['usage', '--group-by', 'week', '--json'])).status).toBe(2);
  });

  it('audit export writes the chain, which audit verify checks offline; a tampered copy fails', async () => {
    const file = path.join(files, 'export.ndjson');
    const exported = ok(await run(['audit', 'export', '-o', file, '--json']));
    expect(exported.events).toBeGreaterThanOrEqual(3);
    expect(exported.firstSeq).toBe(1);

    const verified = ok(await run(['audit', 'verify', file, '--json']));
    expect(verified).toMatchObject({ valid: true, checked: exported.events, headSeq: exported.lastSeq });

    const lines = readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"from the cli test"'));
    expect(i).toBeGreaterThan(0);
    const tampered = path.join(files, 'tampered.ndjson');
    writeFileSync(
      tampered,
      [...lines.slice(0, i), lines[i]!.replace('from the cli test', 'from someone else'), ...lines.slice(i + 1)].join('\n'),
    );
    const broken = await run(['audit', 'verify', tampered, '--json']);
    expect(broken.status).toBe(1);
    expect(broken.json).toMatchObject({ valid: false, line: i + 1 });

    // A slice from the middle of the chain verifies too: its first prevHash is its anchor.
    const events = lines
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'event');
    const middle = events.find((e) => e.receivedAt > events[0].receivedAt && e.seq > 2);
    const slice = path.join(files, 'slice.ndjson');
    const sliced = ok(await run(['audit', 'export', '--from', middle.receivedAt, '-o', slice, '--json']));
    expect(sliced.firstSeq).toBeGreaterThan(1);
    expect(ok(await run(['audit', 'verify', slice, '--json']))).toMatchObject({ valid: true, checked: sliced.events });

    // To stdout, the export is the document itself.
    const piped = await run(['audit', 'export', '--from', new Date(Date.now() - 3_600_000).toISOString()]);
    expect(piped.status).toBe(0);
    expect(JSON.parse(piped.stdout.split('\n')[0]!)).toMatchObject({ type: 'header', format: 'toolgate-audit-export' });
    expect((await run(['audit', 'export', '--from', 'last week'])).status).toBe(2);
  });

  it('refuses an export cut off on the way (exit 1, no file), and a proxy error page (exit 1)', async () => {
    const login = JSON.parse(readFileSync(path.join(home, 'toolgate', 'config.json'), 'utf8'));
    const port = Number(new URL(platform.apiUrl).port);
    const cutting = await startFaultyProxy(port, 'cut-export');
    const failing = await startFaultyProxy(port, 'bad-gateway');
    try {
      const file = path.join(files, 'cut.ndjson');
      const cut = await run(['audit', 'export', '-o', file, '--json'], { env: { TOOLGATE_API: cutting.url, TOOLGATE_TOKEN: login.token } });
      expect(cut.status).toBe(1);
      expect(cut.json.error.code).toBe('export_incomplete');
      expect(existsSync(file)).toBe(false);
      expect(existsSync(`${file}.partial`)).toBe(false);

      const proxied = await run(['servers', 'ls', '--json'], { env: { TOOLGATE_API: failing.url, TOOLGATE_TOKEN: login.token } });
      expect(proxied.status).toBe(1);
      expect(proxied.json.error).toMatchObject({ status: 502, code: null });
      expect(proxied.stderr).toContain('502 Bad Gateway');
    } finally {
      await cutting.close();
      await failing.close();
    }
  });

  it('--prune will not delete a role keys hold (exit 2, saying what was applied before) unless --force', async () => {
    const withoutDeveloper = policy(
      'without-developer.yaml',
      `roles:\n  reader:\n    rules:\n      tools:\n        - { effect: allow, match: "*__read_*" }\n  auditor:\n    rules: {}\n`,
    );
    const refused = await run(['roles', 'apply', '-f', withoutDeveloper, '--prune', '--json']);
    expect(refused.status).toBe(2);
    expect(refused.json.error).toMatchObject({ status: 409, applied: ['create auditor'] });
    expect(refused.stderr).toMatch(/delete developer failed after 1 of 2 changes \(create auditor\): /);
    const names = async () =>
      ok(await run(['roles', 'ls', '--json']))
        .items.map((r: { name: string }) => r.name)
        .sort();
    expect(await names()).toEqual(['auditor', 'developer', 'reader']);

    const forced = ok(await run(['roles', 'apply', '-f', withoutDeveloper, '--prune', '--force', '--json']));
    expect(forced.changes).toEqual([
      { action: 'unchanged', name: 'reader' },
      { action: 'unchanged', name: 'auditor' },
      { action: 'delete', name: 'developer' },
    ]);
    expect(await names()).toEqual(['auditor', 'reader']);
  });
});

describe('usage errors and help', () => {
  it('gives every command readable --help, and bad usage exit 2', async () => {
    for (const cmd of ['login', 'servers', 'keys', 'roles', 'audit', 'usage']) {
      const r = await run([cmd, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^toolgate ${cmd}`));
    }
    expect((await run(['--help'])).stdout).toMatch(/Exit codes: 0 ok; 1 [^;]+; 2 [^;]+; 3 [^;]+; 4 not found/);
    const r = await run(['servers', 'ls', '--frobnicate', '--json']);
    expect(r.status).toBe(2);
    expect(r.json.error.message).toMatch(/--frobnicate/);
    expect((await run(['keys', 'explode'])).status).toBe(2);
  });

  it('logout forgets the login', async () => {
    expect(ok(await run(['logout', '--json']))).toMatchObject({ loggedOut: true });
    const r = await run(['servers', 'ls', '--json']);
    expect(r.status).toBe(3);
    expect(r.json.error.code).toBe('not_logged_in');
    expect(ok(await run(['logout', '--json']))).toMatchObject({ loggedOut: false });
  });
});
