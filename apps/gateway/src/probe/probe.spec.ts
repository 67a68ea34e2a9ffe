import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROBE_SCHEMA_VERSION, type ProbeRequest, type SnapshotServer, sealSecret, type ValueSource } from '@toolgate/contracts';
import type { BackendFactories } from '../backends/pool';
import { UnconfinedLauncher } from '../backends/sandbox/launcher';
import { StdioBackend } from '../backends/stdio';

// The probe's own logic is under test here; test/probe.e2e-spec.ts probes through the real sandbox.
const launcher = new UnconfinedLauncher();
import { runProbe } from './probe';

const FIXTURE = join(__dirname, '../../test/fixtures/probe-server.mjs');
const KEY = Buffer.alloc(32, 7);
const ORG = 'org-probe';
const factories: BackendFactories = { stdio: (spec) => new StdioBackend(spec, { launcher }) };

function request(
  env: Record<string, ValueSource>,
  opts: { args?: string[]; secrets?: Record<string, string>; ms?: number; server?: Partial<SnapshotServer> } = {},
): ProbeRequest {
  return {
    schemaVersion: PROBE_SCHEMA_VERSION,
    id: randomUUID(),
    orgId: ORG,
    server: {
      id: 'srv-1',
      slug: 'fixture',
      name: 'Fixture',
      transport: 'stdio',
      command: process.execPath,
      args: opts.args ?? [FIXTURE],
      url: null,
      headers: {},
      env,
      timeoutMs: 10_000,
      tags: [],
      network: 'none',
      ...opts.server,
    },
    secrets: Object.fromEntries(Object.entries(opts.secrets ?? {}).map(([k, v]) => [k, sealSecret(KEY, ORG, v)])),
    deadline: Date.now() + (opts.ms ?? 10_000),
  };
}
const literal = (vars: Record<string, string>) => Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { value: v }]));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('runProbe', () => {
  it('reads the whole catalogue, following nextCursor, and asks only for advertised lists', async () => {
    const out = await runProbe(request(literal({ PROBE_TOOLS: '7', PROBE_PAGE: '2' })), { secretKey: KEY, factories });
    if (!('catalog' in out)) throw new Error(out.error);
    expect(out.catalog).toMatchObject({
      protocolVersion: '2025-06-18',
      serverInfo: { name: 'probe-fixture', version: '1.2.3' },
      capabilities: { tools: {} },
      instructions: null,
      prompts: [],
      resources: [],
      resourceTemplates: [],
    });
    expect(out.catalog.tools.map((t) => t.name)).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => `tool_${n}`));
    expect(out.catalog.tools[0]).toEqual({ name: 'tool_1', description: 'a tool', inputSchema: { type: 'object', properties: {} } });
  });

  it('refuses a looping cursor and a list longer than the page cap', async () => {
    expect(await runProbe(request(literal({ PROBE_LOOP: '1' })), { secretKey: KEY, factories })).toEqual({
      error: "tools/list returned the same nextCursor twice; the server's pagination loops",
    });
    expect(await runProbe(request(literal({ PROBE_TOOLS: '60', PROBE_PAGE: '1' })), { secretKey: KEY, factories })).toEqual({
      error: 'tools/list still had more pages after 50; the catalogue would be incomplete',
    });
  });

  it('refuses a catalogue over 4 MiB and one whose items do not follow the schema', async () => {
    const big = await runProbe(request(literal({ PROBE_TOOLS: '4', PROBE_BIG_MB: '5' })), { secretKey: KEY, factories });
    expect(big).toEqual({ error: expect.stringMatching(/^the server's catalogue is too large \(5\.0 MiB; the limit is 4 MiB\)$/) });
    const bad = await runProbe(request(literal({ PROBE_BAD_ITEM: '1' })), { secretKey: KEY, factories });
    expect(bad).toEqual({ error: expect.stringMatching(/^the server's catalogue does not follow the MCP schema \(tools\.3\.name: /) });
  });

  it('times out at the deadline, naming the stage, and stops the server', async () => {
    const starts = join(tmpdir(), `probe-starts-${randomUUID()}`);
    try {
      const started = Date.now();
      const out = await runProbe(request(literal({ PROBE_HANG: 'tools/list', PROBE_STARTS: starts }), { ms: 800 }), {
        secretKey: KEY,
        factories,
      });
      expect(out).toEqual({ error: 'timed out after 0.8 s waiting for tools/list' });
      expect(Date.now() - started).toBeLessThan(5000);
      const pid = Number(readFileSync(starts, 'utf8').trim());
      expect(alive(pid)).toBe(false);
    } finally {
      rmSync(starts, { force: true });
    }
  });

  it('redacts opened secret values from the catalogue and from errors', async () => {
    const secrets = { TOKEN: 'probe-secret-value-42' };
    const env = { TOKEN: { secret: 'TOKEN' }, PROBE_SAY: { value: 'uses $TOKEN' } };
    const ok = await runProbe(request(env, { secrets }), { secretKey: KEY, factories });
    expect(ok).toMatchObject({ catalog: { instructions: 'uses [REDACTED:secret]' } });

    const leak = 'console.error("token=" + process.env.TOKEN); process.exit(4)';
    const failed = await runProbe(request({ TOKEN: { secret: 'TOKEN' } }, { secrets, args: ['-e', leak] }), { secretKey: KEY, factories });
    expect(failed).toEqual({ error: expect.stringContaining('exited with code 4') });
    expect('error' in failed && failed.error).toContain('token=[REDACTED:secret]');
    expect(JSON.stringify(failed)).not.toContain('probe-secret-value-42');
  });

  it('names a secret that is missing or does not open, without starting anything', async () => {
    const starts = join(tmpdir(), `probe-starts-${randomUUID()}`);
    const env = { TOKEN: { secret: 'TOKEN' }, PROBE_STARTS: { value: starts } };
    expect(await runProbe(request(env), { secretKey: KEY, factories })).toEqual({
      error: 'Server fixture is misconfigured: secret TOKEN is missing',
    });
    const foreign = { ...request(env), secrets: { TOKEN: sealSecret(KEY, 'another-org', 'v') } };
    expect(await runProbe(foreign, { secretKey: KEY, factories })).toEqual({
      error: 'Server fixture is misconfigured: secret TOKEN could not be decrypted (was TOOLGATE_SECRET_KEY changed?)',
    });
    expect(() => readFileSync(starts)).toThrow();
  });

  it('reports a transport this worker has no backend for, and a stdio server without command', async () => {
    const http = request({}, { server: { transport: 'sse', command: null, url: 'http://127.0.0.1:1/sse' } });
    expect(await runProbe(http, { secretKey: KEY, factories })).toEqual({
      error: 'this gateway worker has no backend for the sse transport',
    });
    const noCommand = request({}, { server: { command: null } });
    expect(await runProbe(noCommand, { secretKey: KEY, factories })).toEqual({
      error: 'Server "fixture" is a stdio server without a command',
    });
  });

  it('ends with an error when the worker shuts down, and stops the server', async () => {
    const starts = join(tmpdir(), `probe-starts-${randomUUID()}`);
    try {
      const shutdown = new AbortController();
      const pending = runProbe(
        request(literal({ PROBE_HANG: 'initialize', PROBE_STARTS: starts })),
        { secretKey: KEY, factories },
        shutdown.signal,
      );
      for (let i = 0; i < 100 && !readFileSafe(starts); i++) await new Promise((r) => setTimeout(r, 20));
      shutdown.abort();
      expect(await pending).toEqual({ error: 'the gateway worker shut down waiting for the server to initialize; probe again' });
      expect(alive(Number(readFileSync(starts, 'utf8').trim()))).toBe(false);
    } finally {
      rmSync(starts, { force: true });
    }
  });
});

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
