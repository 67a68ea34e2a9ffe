/**
 * `toolgate connect`: the SDK's client spawns it as its stdio MCP server, as a desktop host
 * does, and it relays to a standalone gateway over Streamable HTTP: policy, errors, progress and
 * server-to-client requests pass through; a restarting or crashing remote is survived; closing
 * stdin ends the remote session and the process.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { RpcCode } from '@toolgate/gateway/src/core/jsonrpc';
import { baseConfig, CLI, errorCode, KEY, type Running, startGateway, within } from './standalone';

/** The environment of a connect process: its own empty config directory, and the key when given. */
function connectEnv(extra: Record<string, string> = {}): Record<string, string> {
  const home = mkdtempSync(path.join(tmpdir(), 'tg-connect-home-'));
  return { PATH: process.env.PATH!, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), ...extra };
}

interface Host {
  client: Client;
  stderr(): string;
}

async function host(endpoint: string, env: Record<string, string>, capabilities = {}, flags: string[] = []): Promise<Host> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'connect', endpoint, ...flags],
    env,
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const client = new Client({ name: 'desktop-host', version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  return { client, stderr: () => err };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function openSessions(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^toolgate_gateway_open_sessions (\d+)/m.exec(text)?.[1]);
}

describe('toolgate connect', () => {
  let gw: Running;
  beforeAll(async () => {
    gw = await startGateway(baseConfig());
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('relays listing, calls, policy errors, progress, sampling and elicitation requests to the remote endpoint', async () => {
    const { client } = await host(`${gw.url}/mcp`, connectEnv({ TOOLGATE_KEY: KEY }), { sampling: {}, elicitation: {} });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('everything__echo');
    expect(names).not.toContain('everything__get-env');
    expect((await client.callTool({ name: 'everything__echo', arguments: { message: 'bridged' } })).content).toEqual([
      { type: 'text', text: 'Echo: bridged' },
    ]);
    expect(await errorCode(client.callTool({ name: 'everything__get-env', arguments: {} }))).toBe(RpcCode.Denied);
    expect(await errorCode(client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } }))).toBeNull();
    expect(await errorCode(client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } }))).toBe(RpcCode.RateLimited);

    const progress: number[] = [];
    await client.callTool({ name: 'everything__trigger-long-running-operation', arguments: { duration: 1, steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress.length).toBeGreaterThanOrEqual(2);

    // A server-to-client request crosses the bridge the other way, and its answer comes back.
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      model: 'host-model',
      role: 'assistant',
      content: { type: 'text', text: 'sampled by the host' },
    }));
    const sampled = await client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
    expect(JSON.stringify(sampled.content)).toContain('sampled by the host');
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'decline' }));
    const elicited = await client.callTool({ name: 'everything__trigger-elicitation-request', arguments: {} });
    expect(JSON.stringify(elicited.content)).toMatch(/declined/i);
    await client.close();
  });

  it('relays the host’s cancellation: the remote ends the call and records it as cancelled', async () => {
    const { client } = await host(`${gw.url}/mcp`, connectEnv({ TOOLGATE_KEY: KEY }));
    const abort = new AbortController();
    const call = client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 30, steps: 30 } },
      undefined,
      { signal: abort.signal, onprogress: () => abort.abort('the user pressed stop') },
    );
    await expect(call).rejects.toThrow();
    const audit = path.join(gw.dir, 'toolgate-audit.jsonl');
    await within(10_000, async () =>
      readFileSync(audit, 'utf8')
        .split('\n')
        .some((l) => l.includes('trigger-long-running-operation') && l.includes('"outcome":"cancelled"')),
    );
    // The bridge stays usable.
    expect(await errorCode(client.callTool({ name: 'everything__echo', arguments: { message: 'still here' } }))).toBeNull();
    await client.close();
  });

  it('takes the key from the config file of the OS config directory when the environment has none', async () => {
    const env = connectEnv();
    mkdirSync(path.join(env.XDG_CONFIG_HOME!, 'toolgate'), { recursive: true });
    const file = path.join(env.XDG_CONFIG_HOME!, 'toolgate', 'config.json');
    writeFileSync(file, JSON.stringify({ agentKeys: { [`${gw.url}/mcp`]: KEY } }), { mode: 0o644 });
    const { client, stderr } = await host(`${gw.url}/mcp`, env);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
    expect(stderr()).toContain(`${file} holds an agent key and is readable by other users`);

    writeFileSync(file, JSON.stringify({ agentKeys: { [`${gw.url}/mcp`]: 42 } }));
    const wrongType = spawnSync(process.execPath, [CLI, 'connect', `${gw.url}/mcp`], { encoding: 'utf8', env });
    expect(wrongType.status).toBe(2);
    expect(wrongType.stderr).toContain(`${file}: agentKeys.${gw.url}/mcp: `);

    writeFileSync(file, '{"agentKeys": ');
    const broken = spawnSync(process.execPath, [CLI, 'connect', `${gw.url}/mcp`], { encoding: 'utf8', env });
    expect(broken.status).toBe(2);
    expect(broken.stderr).toContain(`${file}: not valid JSON`);
  });

  it('answers a refused key with the gateway’s error and says so on stderr, never printing the key', async () => {
    const wrong = 'tg_wrong_key_that_must_not_be_logged';
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'connect', `${gw.url}/mcp`],
      env: connectEnv({ TOOLGATE_KEY: wrong }),
      stderr: 'pipe',
    });
    let err = '';
    transport.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const client = new Client({ name: 'desktop-host', version: '1.0.0' });
    expect(await errorCode(client.connect(transport))).toBe(RpcCode.Unauthorized);
    await client.close();
    expect(err).toMatch(/the remote refused the key \(HTTP 401/);
    expect(err).not.toContain(wrong);
  });

  it('refuses to start without a key or with an unusable endpoint, with exit code 2 and the reason', () => {
    const run = (args: string[], env = connectEnv()) => spawnSync(process.execPath, [CLI, 'connect', ...args], { encoding: 'utf8', env });
    const noKey = run([`${gw.url}/mcp`]);
    expect(noKey.status).toBe(2);
    expect(noKey.stderr).toMatch(/no agent key: set \$TOOLGATE_KEY/);
    const unsetVar = run([`${gw.url}/mcp`, '--key-env', 'MY_KEY']);
    expect(unsetVar.status).toBe(2);
    expect(unsetVar.stderr).toMatch(/\$MY_KEY is not set/);
    const cleartext = run(['http://gateway.example.com/mcp'], connectEnv({ TOOLGATE_KEY: KEY }));
    expect(cleartext.status).toBe(2);
    expect(cleartext.stderr).toMatch(/plain http would send the key in clear/);
    expect(run([], connectEnv({ TOOLGATE_KEY: KEY })).status).toBe(2);
  });

  it.each([
    ['the host closes stdin', (child: ChildProcess) => child.stdin!.end()],
    ['the host sends SIGTERM', (child: ChildProcess) => child.kill('SIGTERM')],
  ])('ends the remote session and exits 0 soon after %s', async (_, stop) => {
    const child = spawn(process.execPath, [CLI, 'connect', `${gw.url}/mcp`], {
      env: connectEnv({ TOOLGATE_KEY: KEY }),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const before = await openSessions(gw.url);
    const initialized = new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.toString().includes('"id":1') && resolve()),
    );
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })}\n`,
    );
    await initialized;
    expect(await openSessions(gw.url)).toBe(before + 1);
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const closedAt = Date.now();
    stop(child);
    expect(await exited).toBe(0);
    expect(Date.now() - closedAt).toBeLessThan(3000);
    expect(await openSessions(gw.url)).toBe(before);
  });
});

describe('toolgate connect with a remote that goes away', () => {
  it('survives a restart between calls and answers a call cut by a crash with an error, then serves again', async () => {
    const port = await freePort();
    let gw = await startGateway(baseConfig(), {}, port);
    const { client, stderr } = await host(`${gw.url}/mcp`, connectEnv({ TOOLGATE_KEY: KEY }));
    expect(await errorCode(client.callTool({ name: 'everything__echo', arguments: { message: 'before' } }))).toBeNull();

    // A restart: the new process knows no sessions; the bridge starts a new one unseen by the host.
    await gw.stop();
    gw = await startGateway(baseConfig(), {}, port);
    expect((await client.callTool({ name: 'everything__echo', arguments: { message: 'after' } })).content).toEqual([
      { type: 'text', text: 'Echo: after' },
    ]);
    expect(stderr()).toMatch(/started a new one/);

    // A crash in the middle of a call: the host gets an error, not a hang.
    let cut!: Promise<number | null>;
    const progressed = new Promise<void>((resolve) => {
      const call = client.callTool(
        { name: 'everything__trigger-long-running-operation', arguments: { duration: 30, steps: 30 } },
        undefined,
        { onprogress: () => resolve(), timeout: 60_000 },
      );
      cut = errorCode(call);
    });
    await progressed;
    const crashedAt = Date.now();
    await gw.crash();
    expect(await cut).toBe(RpcCode.UpstreamUnavailable);
    expect(Date.now() - crashedAt).toBeLessThan(15_000);

    // Down when the call is made, back within --retry-for: the call waits and succeeds.
    const waiting = client.callTool({ name: 'everything__echo', arguments: { message: 'waited' } });
    gw = await startGateway(baseConfig(), {}, port);
    expect((await waiting).content).toEqual([{ type: 'text', text: 'Echo: waited' }]);
    await within(
      15_000,
      async () => (await errorCode(client.callTool({ name: 'everything__echo', arguments: { message: 'x' } }))) === null,
    );

    // Back without this key: the new session is refused, with the remote's own error.
    await gw.stop();
    gw = await startGateway(baseConfig('', ['ci']), {}, port);
    expect(await errorCode(client.callTool({ name: 'everything__echo', arguments: { message: 'revoked' } }))).toBe(RpcCode.Unauthorized);
    expect(stderr()).toMatch(/the remote refused the key \(HTTP 401/);
    await client.close();
    await gw.stop();
  });

  it('says so when the key is revoked mid-session, and answers later calls with the 401’s error', async () => {
    const gw = await startGateway(baseConfig());
    const { client, stderr } = await host(`${gw.url}/mcp`, connectEnv({ TOOLGATE_KEY: KEY }));
    expect(await errorCode(client.callTool({ name: 'everything__echo', arguments: { message: 'before' } }))).toBeNull();
    // The gateway reloads its config without this key and closes the key's streams.
    gw.write(baseConfig('', ['ci']));
    await within(10_000, async () => /the remote refused the key \(HTTP 401/.test(stderr()), 'the revocation on stderr');
    expect(await errorCode(client.callTool({ name: 'everything__echo', arguments: { message: 'after' } }))).toBe(RpcCode.Unauthorized);
    expect(stderr()).not.toContain(KEY);
    await client.close();
    await gw.stop();
  });

  it('answers with an error when the remote stays unreachable past --retry-for', async () => {
    const port = await freePort();
    const started = Date.now();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'connect', `http://127.0.0.1:${port}/mcp`, '--retry-for', '1'],
      env: connectEnv({ TOOLGATE_KEY: KEY }),
      stderr: 'pipe',
    });
    let err = '';
    transport.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const client = new Client({ name: 'desktop-host', version: '1.0.0' });
    expect(await errorCode(client.connect(transport))).toBe(RpcCode.UpstreamUnavailable);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(err).toMatch(/unreachable \(ECONNREFUSED\)/);
    await client.close();
  });
});
