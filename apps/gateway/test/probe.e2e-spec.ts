import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROBE_SCHEMA_VERSION, type ProbeRequest, ProbeReply, redisKeys } from '@toolgate/contracts';
import Redis from 'ioredis';
import { ApiClient, EVERYTHING, type Stack, startApi, startStack, uniq } from './harness';
import { type StreamableFixture, startStreamableFixture } from './fixtures/http-mcp-server';

/**
 * Probes end to end: the API hands them to gateway workers over Redis, a worker runs the server
 * through its own backends and answers. Two workers serve the whole suite.
 */

const PROBE_SERVER = join(__dirname, 'fixtures/probe-server.mjs');
const API_KEY = 'probe-fixture-key-5b7e1c';

/** Host processes (not zombies) whose command line carries the marker. */
function runningWith(marker: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) found.push(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    if (await check()) return true;
  }
  return check();
}

describe('probes run on gateway workers', () => {
  let stack: Stack;
  let api: ApiClient;
  let org: { id: string; slug: string };
  let http: StreamableFixture;
  let redis: Redis;
  // Sandboxed servers see no host path but their org's cache folder (/cache inside): what they
  // write there tells the test what ran.
  const tmp = mkdtempSync(join(tmpdir(), 'tg-probe-'));
  chmodSync(tmp, 0o755);
  const written = (name: string) => join(tmp, org.id, name);

  beforeAll(async () => {
    stack = await startStack({ gateways: 2, gatewayEnv: { STDIO_CACHE_DIR: tmp } });
    api = new ApiClient(stack.apiUrl);
    await api.signup();
    org = await api.call('POST', '/v1/orgs', { name: 'Probes', slug: uniq('probe') });
    http = await startStreamableFixture({ requireHeader: { name: 'x-api-key', value: API_KEY } });
    redis = new Redis(process.env.REDIS_URL!);
  });
  afterAll(async () => {
    redis.disconnect();
    await http.close();
    await stack.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const servers = () => `/v1/orgs/${org.slug}/servers`;
  const create = (body: Record<string, unknown>) => api.call('POST', servers(), { name: 'Server', ...body });
  const probe = (id: string, expect = [200], on: ApiClient = api) =>
    on.call('POST', `/v1/orgs/${org.slug}/servers/${id}/probe`, undefined, expect);
  const secret = (name: string, value: string) => api.call('PUT', `/v1/orgs/${org.slug}/secrets/${name}`, { value });
  /** A stdio server running the probe fixture, configured through its env. */
  const fixtureServer = (env: Record<string, string>, extra: Record<string, unknown> = {}) =>
    create({
      slug: uniq('fx'),
      transport: 'stdio',
      command: process.execPath,
      args: [PROBE_SERVER],
      env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, { value: v }])),
      ...extra,
    });

  /** Probes counted by the workers, by outcome (summed over both). */
  async function counted(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const g of stack.gateways) {
      for (const v of (await g.metrics.probes.get()).values) {
        const k = String(v.labels.outcome);
        out[k] = (out[k] ?? 0) + v.value;
      }
    }
    return out;
  }

  it('reads the catalogue of server-everything over stdio and stores it, without touching the snapshot', async () => {
    const s = await create({ slug: uniq('everything'), transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] });
    const before = await api.call('GET', `/v1/orgs/${org.slug}`);
    const body = await probe(s.id);
    expect(body).toMatchObject({ id: s.id, health: 'ok', lastProbeError: null, updatedAt: s.updatedAt });
    const c = body.catalog;
    expect(c.serverInfo).toMatchObject({ name: expect.stringContaining('everything'), version: expect.any(String) });
    expect(c.protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const echo = c.tools.find((t: { name: string }) => t.name === 'echo');
    expect(echo.inputSchema).toMatchObject({ type: 'object', properties: { message: expect.any(Object) }, required: ['message'] });
    expect(c.prompts.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['simple-prompt', 'args-prompt']));
    expect(c.resources.length).toBeGreaterThan(0);
    expect(c.resourceTemplates.length).toBeGreaterThan(0);

    const got = await api.call('GET', `/v1/orgs/${org.slug}/servers/${s.id}`);
    expect(got.catalog.tools.length).toBe(c.tools.length);
    expect((await api.call('GET', `/v1/orgs/${org.slug}`)).snapshotVersion).toBe(before.snapshotVersion);
    const activity = await api.call('GET', `/v1/orgs/${org.slug}/activity?action=server.probed`);
    const entries = activity.items.filter((e: { targetId: string }) => e.targetId === s.id);
    expect(entries).toHaveLength(1);
    expect(entries[0].after).toMatchObject({ ok: true, tools: c.tools.length, prompts: c.prompts.length });
  });

  it('probes a Streamable HTTP server with a header from a secret, and ends its session', async () => {
    await secret('HTTP_KEY', API_KEY);
    const s = await create({
      slug: uniq('http'),
      transport: 'streamable-http',
      url: http.url,
      headers: { 'X-Api-Key': { secret: 'HTTP_KEY' } },
    });
    const deletes = http.stats.deletes;
    const body = await probe(s.id);
    expect(body.catalog.serverInfo).toMatchObject({ name: 'toolgate-http-fixture', version: '1.0.0' });
    expect(body.catalog.tools.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['echo', 'whoami', 'slow']));
    // Lists the server does not advertise are not asked for.
    expect(body.catalog).toMatchObject({ resources: [], resourceTemplates: [] });
    expect(await until(() => http.stats.deletes === deletes + 1)).toBe(true);
  });

  it('reports a refused credential without the secret value', async () => {
    await secret('WRONG_KEY', 'wrong-secret-value-987');
    const s = await create({
      slug: uniq('wrong'),
      transport: 'streamable-http',
      url: http.url,
      headers: { 'X-Api-Key': { secret: 'WRONG_KEY' } },
    });
    const res = await probe(s.id, [502]);
    expect(res).toMatchObject({ status: 502, code: 'probe_failed', serverId: s.id });
    expect(res.detail).toBe('the server refused initialize: missing or wrong API key');
    expect(JSON.stringify(res)).not.toContain('wrong-secret-value-987');
  });

  it('reports a server that fails to start clearly, with its secrets redacted, and keeps the last good catalogue', async () => {
    const s = await fixtureServer({});
    await probe(s.id);
    // An allowed launcher this gateway does not have installed.
    await api.call('PATCH', `${servers()}/${s.id}`, { command: 'deno', args: ['run', 'server.ts'] });
    const missing = await probe(s.id, [502]);
    expect(missing.detail).toMatch(/exited with code 1\. Last stderr output: bwrap: execvp deno: No such file or directory$/);
    const stored = await api.call('GET', `${servers()}/${s.id}`);
    expect(stored).toMatchObject({ health: 'error', lastProbeError: missing.detail });
    expect(stored.catalog.tools.length).toBe(3);

    await secret('ECHOED', 'super-secret-token-value');
    const leak = 'console.error("fatal: token=" + process.env.API_TOKEN); process.exit(3)';
    const s2 = await create({
      slug: uniq('leak'),
      transport: 'stdio',
      command: process.execPath,
      args: ['-e', leak],
      env: { API_TOKEN: { secret: 'ECHOED' } },
    });
    const res = await probe(s2.id, [502]);
    expect(res.detail).toContain('exited with code 3');
    expect(res.detail).toContain('fatal: token=[REDACTED:secret]');
    expect(JSON.stringify(res)).not.toContain('super-secret-token-value');
    expect((await api.call('GET', `${servers()}/${s2.id}`)).lastProbeError).not.toContain('super-secret-token-value');
  });

  it('probes a disabled server (the request carries its config; it is in no snapshot)', async () => {
    const s = await fixtureServer({ PROBE_TOOLS: '2' }, { enabled: false });
    const body = await probe(s.id);
    expect(body).toMatchObject({ enabled: false, health: 'ok' });
    expect(body.catalog.tools.map((t: { name: string }) => t.name)).toEqual(['tool_1', 'tool_2']);
  });

  it('lets only one worker take each probe', async () => {
    const names = [1, 2, 3, 4].map((n) => `starts-${n}`);
    const made = await Promise.all(names.map((f) => fixtureServer({ PROBE_STARTS: `/cache/${f}` })));
    const before = await counted();
    const bodies = await Promise.all(made.map((s) => probe(s.id)));
    expect(bodies.map((b) => b.health)).toEqual(['ok', 'ok', 'ok', 'ok']);
    for (const f of names) expect(readFileSync(written(f), 'utf8').trim().split('\n')).toHaveLength(1);
    expect((await counted()).result! - (before.result ?? 0)).toBe(4);
  });

  it('keeps serving after malformed requests, answering those that name their id', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const before = await counted();
    const id = randomUUID();
    await redis.rpush(redisKeys.probeRequests, 'not json at all', JSON.stringify({ schemaVersion: 99, id }));
    const raw = await redis.blpop(redisKeys.probeReply(id), 5);
    expect(ProbeReply.parse(JSON.parse(raw![1]))).toEqual({
      kind: 'error',
      id,
      message: 'the gateway worker could not read the probe request: its schemaVersion is 99, this worker reads 1',
    });
    const s = await fixtureServer({});
    expect((await probe(s.id)).health).toBe('ok');
    expect((await counted()).malformed! - (before.malformed ?? 0)).toBe(2);
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual(
      expect.arrayContaining([
        'gateway: probe (no id): malformed request (it is not JSON), dropped',
        `gateway: probe ${id}: malformed request (its schemaVersion is 99, this worker reads 1)`,
      ]),
    );
    warn.mockRestore();
  });

  it('drops a request taken after its deadline without running it', async () => {
    const marker = written('expired-ran');
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const before = await counted();
    const stale: ProbeRequest = {
      schemaVersion: PROBE_SCHEMA_VERSION,
      id: randomUUID(),
      orgId: org.id,
      server: {
        id: randomUUID(),
        slug: 'stale',
        name: 'Stale',
        transport: 'stdio',
        command: 'node',
        args: ['-e', 'require("node:fs").writeFileSync("/cache/expired-ran", "")'],
        url: null,
        headers: {},
        env: {},
        timeoutMs: 10_000,
        tags: [],
        network: 'none',
      },
      secrets: {},
      deadline: Date.now() - 1,
    };
    await redis.rpush(redisKeys.probeRequests, JSON.stringify(stale));
    expect(await until(async () => ((await counted()).expired ?? 0) > (before.expired ?? 0))).toBe(true);
    expect(existsSync(marker)).toBe(false);
    expect(await redis.exists(redisKeys.probeReply(stale.id))).toBe(0);
    expect(warn).toHaveBeenCalledWith(`gateway: probe ${stale.id}: dropped, its deadline passed before a worker was free`);
    warn.mockRestore();
  });

  describe('with PROBE_TIMEOUT_MS=1500', () => {
    let slow: { api: Stack['api']; apiUrl: string };
    let slowApi: ApiClient;
    beforeAll(async () => {
      slow = await startApi({ PROBE_TIMEOUT_MS: '1500' });
      slowApi = new ApiClient(slow.apiUrl);
      slowApi.token = api.token;
    });
    afterAll(() => slow.api.close());

    it('times out a server that never answers, stops it and what it started, and allows one probe at a time', async () => {
      const marker = `tg-hang-${randomUUID()}`;
      // The server starts a helper of its own (both carry the marker), then never says a word.
      const code = [
        'const { spawn } = require("node:child_process");',
        `spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "${marker}"], { stdio: "ignore" });`,
        'require("node:fs").writeFileSync("/cache/hang-started", "");',
        'setInterval(() => {}, 1000);',
      ].join(' ');
      const s = await create({ slug: uniq('hang'), transport: 'stdio', command: process.execPath, args: ['-e', code, marker] });
      const started = Date.now();
      const [first, second] = await Promise.all([
        probe(s.id, [502], slowApi),
        new Promise((r) => setTimeout(r, 300)).then(() => probe(s.id, [409], slowApi)),
      ]);
      expect(first.detail).toMatch(/^timed out after 1\.\d s waiting for the server to initialize$/);
      expect(Date.now() - started).toBeLessThan(8000);
      expect(second.code).toBe('conflict');
      expect(existsSync(written('hang-started'))).toBe(true);
      expect(await until(() => runningWith(marker).length === 0, 3000)).toBe(true);
      expect((await api.call('GET', `${servers()}/${s.id}`)).lastProbeError).toBe(first.detail);
    });

    it('does not store the result of a probe whose config changed meanwhile (409)', async () => {
      const s = await fixtureServer({ PROBE_HANG: 'initialize' });
      const pending = probe(s.id, [409], slowApi);
      await new Promise((r) => setTimeout(r, 300));
      await api.call('PATCH', `${servers()}/${s.id}`, { args: [PROBE_SERVER, 'changed'] });
      const res = await pending;
      expect(res.detail).toContain('changed while it was being probed');
      expect(await api.call('GET', `${servers()}/${s.id}`)).toMatchObject({ lastProbeAt: null, lastProbeError: null });
    });
  });
});
