/**
 * `toolgate gateway --config` as a real process, driven by the SDK's client over Streamable HTTP:
 * the platform's pipeline from one YAML file (policy, rate limits, audit file, health and
 * metrics), and hot reload of that file while sessions stay open.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RpcCode } from '@toolgate/gateway/src/core/jsonrpc';
import { baseConfig, CLI, connect, errorCode, FIXTURE, OTHER_KEY, type Running, startGateway, within } from './standalone';

describe('standalone gateway over Streamable HTTP', () => {
  let gw: Running;

  beforeAll(async () => {
    gw = await startGateway(baseConfig());
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('lists and calls through policy, with the platform gateway’s error codes for a denied and a rate-limited call', async () => {
    const client = await connect(gw.url);
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['everything__echo', 'everything__get-sum']));
    // tools/list shows only what the caller may call.
    expect(names).not.toContain('everything__get-env');

    const echo = await client.callTool({ name: 'everything__echo', arguments: { message: 'through the gateway' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'Echo: through the gateway' }]);

    expect(await errorCode(client.callTool({ name: 'everything__get-env', arguments: {} }))).toBe(RpcCode.Denied);
    expect(await errorCode(client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } }))).toBeNull();
    expect(await errorCode(client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } }))).toBe(RpcCode.RateLimited);
    await client.close();
  });

  it('refuses a request without a valid key with 401 and WWW-Authenticate', async () => {
    const res = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer tg_wrong' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('answers /healthz and /metrics like the platform gateway', async () => {
    expect(await (await fetch(`${gw.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^toolgate_/m);
  });

  it('writes every call to a hash-chained audit file that `toolgate audit verify` checks, and finds a tampered line', async () => {
    const file = path.join(gw.dir, 'toolgate-audit.jsonl');
    const ok = spawnSync(process.execPath, [CLI, 'audit', 'verify', file, '--json'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    const report = JSON.parse(ok.stdout) as { valid: boolean; checked: number };
    expect(report.valid).toBe(true);
    expect(report.checked).toBeGreaterThanOrEqual(4);
    const lines = readFileSync(file, 'utf8').split('\n');
    const denied = lines.findIndex((l) => l.includes('"decision":"deny"'));
    expect(denied).toBeGreaterThan(0);
    const copy = path.join(gw.dir, 'tampered.jsonl');
    lines[denied] = lines[denied]!.replace('"decision":"deny"', '"decision":"allow"');
    writeFileSync(copy, lines.join('\n'));
    const bad = spawnSync(process.execPath, [CLI, 'audit', 'verify', copy], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(`${copy}:${denied + 1}: broken`);
    // The usage roll-up counts the same calls.
    await within(5000, async () => {
      try {
        const usage = JSON.parse(readFileSync(path.join(gw.dir, 'toolgate-usage.json'), 'utf8')) as { rows: { calls: number }[] };
        return usage.rows.reduce((n, r) => n + r.calls, 0) >= 4;
      } catch {
        return false;
      }
    });
  });
});

describe('standalone gateway hot reload', () => {
  let gw: Running;

  beforeAll(async () => {
    gw = await startGateway(baseConfig());
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('adds a server to an open session, revokes a key within 1 s, and keeps the last good config on a broken edit', async () => {
    const client = await connect(gw.url);
    const other = await connect(gw.url, OTHER_KEY);
    expect((await client.listTools()).tools.some((t) => t.name.startsWith('fixture__'))).toBe(false);

    gw.write(baseConfig(`  fixture:\n    transport: stdio\n    command: node\n    args: ["${FIXTURE}"]\n`));
    await within(1000, async () => gw.log().includes('reloaded, version 2'), `reload (log: ${gw.log().slice(-2000)})`);
    // The same session (no reconnect) now sees and calls the new server.
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('fixture__echo');
    expect((await client.callTool({ name: 'fixture__echo', arguments: { message: 'new' } })).content).toEqual([
      { type: 'text', text: 'new' },
    ]);

    // Revoke the other key: its session is refused within a second. Its backends are up before
    // the clock starts (stdio servers starting are not what is measured).
    expect((await other.listTools()).tools.map((t) => t.name)).toContain('fixture__echo');
    gw.write(baseConfig(`  fixture:\n    transport: stdio\n    command: node\n    args: ["${FIXTURE}"]\n`, ['laptop']));
    await within(1000, async () => (await errorCode(other.listTools())) !== null, 'revocation').catch((e) => {
      throw new Error(
        `${e.message}\n${gw
          .log()
          .split('\n')
          .filter((l) => /toolgate/.test(l))
          .join('\n')}`,
      );
    });

    // A broken edit: the log says where, and the last good config keeps serving.
    gw.write(`${baseConfig('', ['laptop'])}  broken: {roles: [nobody], env: TEST_KEY}\n`);
    await within(
      1000,
      async () => /edit is invalid[\s\S]*toolgate\.yaml:\d+:\d+: keys\.broken\.roles\.0: no role \\"nobody\\"/.test(gw.log()),
      'broken edit reported',
    );
    expect((await client.callTool({ name: 'fixture__echo', arguments: { message: 'still' } })).content).toEqual([
      { type: 'text', text: 'still' },
    ]);
    await client.close();
    await other.close().catch(() => undefined);
  });
});
