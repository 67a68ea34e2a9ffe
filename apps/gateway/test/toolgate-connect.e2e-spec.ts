/**
 * `toolgate connect` (apps/cli) as a desktop host's bridge to the platform gateway: the SDK's
 * client spawns it over stdio, and it relays to `/mcp/{org}` with an agent key made through the
 * API. Policy and its errors are the platform's; a wrong key is refused with the 401's code.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { RpcCode } from '../src/core/jsonrpc';
import { type Stack, setupOrg, startStack } from './harness';

const TOOLGATE = path.join(__dirname, '../../cli/bin/toolgate.js');

jest.setTimeout(60_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

/** The SDK's client with `toolgate connect ENDPOINT` as its stdio server; its own empty config directory. */
async function bridged(endpoint: string, key: string): Promise<{ client: Client; connected: Promise<void>; stderr: () => string }> {
  const home = mkdtempSync(path.join(tmpdir(), 'tg-connect-home-'));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [TOOLGATE, 'connect', endpoint],
    env: { PATH: process.env.PATH!, HOME: home, XDG_CONFIG_HOME: home, TOOLGATE_KEY: key },
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const client = new Client({ name: 'desktop-host', version: '1.0.0' });
  return { client, connected: client.connect(transport), stderr: () => err };
}

async function errorCode(p: Promise<unknown>): Promise<number | null> {
  try {
    await p;
    return null;
  } catch (e) {
    return (e as { code?: number }).code ?? null;
  }
}

describe('toolgate connect to the platform gateway', () => {
  it('lists and calls through the org’s policy, and gets the gateway’s error for a denied call', async () => {
    const { org, key } = await setupOrg(stack, {
      rules: {
        tools: [
          { effect: 'allow', match: '*' },
          { effect: 'deny', match: 'everything__get-env' },
        ],
      },
    });
    const { client, connected } = await bridged(`${stack.gatewayUrl}/mcp/${org.slug}`, key);
    await connected;
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('everything__echo');
    expect(names).not.toContain('everything__get-env');
    expect((await client.callTool({ name: 'everything__echo', arguments: { message: 'via connect' } })).content).toEqual([
      { type: 'text', text: 'Echo: via connect' },
    ]);
    expect(await errorCode(client.callTool({ name: 'everything__get-env', arguments: {} }))).toBe(RpcCode.Denied);
    await client.close();
  });

  it('answers a wrong key with the 401’s error and says so on stderr', async () => {
    const { org } = await setupOrg(stack);
    const wrong = 'tg_not_a_key_of_this_org_0123456789';
    const { client, connected, stderr } = await bridged(`${stack.gatewayUrl}/mcp/${org.slug}`, wrong);
    expect(await errorCode(connected)).toBe(RpcCode.Unauthorized);
    await client.close();
    expect(stderr()).toMatch(/the remote refused the key \(HTTP 401/);
    expect(stderr()).not.toContain(wrong);
  });
});
