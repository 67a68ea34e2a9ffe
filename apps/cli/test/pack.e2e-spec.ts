/**
 * The packaged `toolgate`: `npm pack` of the bundle, installed into an empty directory outside
 * the workspace, runs `init` and the standalone gateway from the starter config (its server
 * swapped for a local one: the test downloads nothing at run time) and serves an SDK client.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { RpcCode } from '@toolgate/gateway/src/core/jsonrpc';
import { parseDocument } from 'yaml';
import { errorCode, EVERYTHING, KEY } from './standalone';

const CLI_DIR = path.join(__dirname, '..');

/** npm's settings from the pnpm run that started jest would steer the install: the test uses npm's own defaults. */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

let gateway: ChildProcess | undefined;
afterAll(() => {
  gateway?.kill('SIGKILL');
});

describe('the packed toolgate tarball', () => {
  it('installs into an empty directory and runs init, the standalone gateway, connect and audit verify', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'tg-pack-'));
    const tarball = execFileSync(process.execPath, [path.join(CLI_DIR, 'scripts/pack.mjs'), '--out', path.join(root, 'out')], {
      encoding: 'utf8',
      env: npmEnv(),
    })
      .trim()
      .split('\n')
      .pop()!;
    expect(path.basename(tarball)).toMatch(/^toolgate-\d+\.\d+\.\d+\.tgz$/);

    // The bundle needs nothing but Node's own modules: no workspace path, no package to resolve.
    const bundle = readFileSync(path.join(root, 'out/package/dist/toolgate.js'), 'utf8');
    // (`node:` names are Node's by construction, including ones newer than this Node, e.g. node:sqlite.)
    const required = [...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!);
    expect(required.filter((m) => !m.startsWith('node:') && !builtinModules.includes(m))).toEqual([]);
    expect(bundle).not.toContain(path.resolve(CLI_DIR, '../..'));

    const prefix = path.join(root, 'install');
    const install = spawnSync('npm', ['install', '--prefix', prefix, tarball, '--no-audit', '--no-fund', '--prefer-offline'], {
      encoding: 'utf8',
      env: npmEnv(),
    });
    expect(install.stderr).not.toMatch(/ERR!/);
    expect(install.status).toBe(0);
    const toolgate = path.join(prefix, 'node_modules/.bin/toolgate');

    const work = path.join(root, 'work');
    mkdirSync(work);
    const env = { ...process.env, TOOLGATE_KEY: KEY };
    const init = spawnSync(toolgate, ['init'], { cwd: work, encoding: 'utf8', env });
    expect(init.status).toBe(0);
    expect(init.stdout).toMatch(/wrote toolgate\.yaml/);

    // The starter's server comes from npx (a download): the same server, already on disk, instead.
    const doc = parseDocument(readFileSync(path.join(work, 'toolgate.yaml'), 'utf8'));
    doc.setIn(['servers', 'everything', 'command'], process.execPath);
    doc.setIn(['servers', 'everything', 'args'], [EVERYTHING, 'stdio']);
    doc.deleteIn(['servers', 'everything', 'network']);
    writeFileSync(path.join(work, 'toolgate.yaml'), doc.toString());

    gateway = spawn(toolgate, ['gateway', '--config', 'toolgate.yaml', '--port', '0'], {
      cwd: work,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    gateway.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      gateway!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /MCP endpoint (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      gateway!.once('exit', (code) => reject(new Error(`the packaged gateway exited with ${code}:\n${log}`)));
    });

    const client = new Client({ name: 'packaged-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${KEY}` } } }));
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('everything__echo');
    expect((await client.callTool({ name: 'everything__echo', arguments: { message: 'packaged' } })).content).toEqual([
      { type: 'text', text: 'Echo: packaged' },
    ]);
    // The starter's role denies get-env.
    expect(await errorCode(client.callTool({ name: 'everything__get-env', arguments: {} }))).toBe(RpcCode.Denied);
    await client.close();

    // The packaged bridge, as a desktop host would spawn it, to the packaged gateway.
    const bridged = new Client({ name: 'desktop-host', version: '1.0.0' });
    await bridged.connect(
      new StdioClientTransport({ command: toolgate, args: ['connect', url], env: { PATH: process.env.PATH!, TOOLGATE_KEY: KEY } }),
    );
    expect((await bridged.callTool({ name: 'everything__echo', arguments: { message: 'bridged' } })).content).toEqual([
      { type: 'text', text: 'Echo: bridged' },
    ]);
    await bridged.close();

    const exited = new Promise((r) => gateway!.once('exit', r));
    gateway.kill('SIGTERM');
    await exited;
    const verify = spawnSync(toolgate, ['audit', 'verify', 'toolgate-audit.jsonl'], { cwd: work, encoding: 'utf8', env });
    expect(verify.stdout).toMatch(/toolgate-audit\.jsonl: valid/);
    expect(verify.status).toBe(0);
    const decisions = readFileSync(path.join(work, 'toolgate-audit.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"method":"tools/call"'))
      .map((l) => (JSON.parse(l) as { payload: { decision: string } }).payload.decision);
    expect(decisions).toEqual(['allow', 'deny', 'allow']);
  });
});
