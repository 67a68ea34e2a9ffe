/**
 * The stdio front: the SDK's client spawns `toolgate gateway --stdio` as its one MCP server, as a
 * desktop host does, and gets the same policy, limits and audit as an HTTP agent.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { RpcCode } from '@toolgate/gateway/src/core/jsonrpc';
import { verifyAuditFile } from '../src/audit/verify';
import { baseConfig, CLI, configDir, errorCode, gatewayEnv } from './standalone';

function spawnClient(file: string, keyEnv: string, env: NodeJS.ProcessEnv) {
  return new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'gateway', '--config', file, '--stdio', '--key-env', keyEnv],
    env: env as Record<string, string>,
    stderr: 'pipe',
  });
}

describe('standalone gateway over --stdio', () => {
  it('lists and calls through policy, with the same error codes as over HTTP, and audits the calls', async () => {
    const { dir, file } = configDir(baseConfig());
    const client = new Client({ name: 'desktop-host', version: '1.0.0' });
    await client.connect(spawnClient(file, 'TEST_KEY', gatewayEnv()));
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('everything__echo');
    expect(names).not.toContain('everything__get-env');
    expect((await client.callTool({ name: 'everything__echo', arguments: { message: 'over stdio' } })).content).toEqual([
      { type: 'text', text: 'Echo: over stdio' },
    ]);
    expect(await errorCode(client.callTool({ name: 'everything__get-env', arguments: {} }))).toBe(RpcCode.Denied);
    expect(await errorCode(client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } }))).toBeNull();
    expect(await errorCode(client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 2 } }))).toBe(RpcCode.RateLimited);
    // The host closing the connection ends the gateway, which leaves its audit file complete.
    await client.close();
    const audit = path.join(dir, 'toolgate-audit.jsonl');
    expect(verifyAuditFile(audit)).toMatchObject({ valid: true });
    const decisions = readFileSync(audit, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"method":"tools/call"'))
      .map((l) => (JSON.parse(l) as { payload: { decision: string } }).payload.decision);
    expect(decisions).toEqual(['allow', 'deny', 'allow', 'rate_limited']);
  });

  it('answers an unknown key with the gateway’s 401 error instead of serving', async () => {
    const { file } = configDir(baseConfig());
    const client = new Client({ name: 'desktop-host', version: '1.0.0' });
    const code = await errorCode(client.connect(spawnClient(file, 'WRONG_KEY', gatewayEnv({ WRONG_KEY: 'tg_not_a_key' }))));
    expect(code).toBe(RpcCode.Unauthorized);
    await client.close();
  });

  it('refuses to start without a key, naming the flag', async () => {
    const { file } = configDir(baseConfig());
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [CLI, 'gateway', '--config', file, '--stdio'], { encoding: 'utf8', env: gatewayEnv() });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--stdio needs --key-env NAME/);
  });
});
