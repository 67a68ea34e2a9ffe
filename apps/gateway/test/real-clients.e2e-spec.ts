/**
 * Real MCP clients other than our own SDK tests, each run as its users run it, against the real
 * stack (control plane + gateway worker, an org whose key may call stdio server-everything):
 *
 * - the MCP Inspector's CLI (`inspector --cli URL --transport http --method … --header …`),
 *   a child process per call; it needs Node 22, so it runs on the binary of @toolgate/node22
 *   like the conformance CLI (see conformance.e2e-spec.ts);
 * - mcp-remote, the stdio-to-HTTP bridge desktop clients use for remote servers, spawned as a
 *   stdio server and driven by the SDK's Client over StdioClientTransport, so every message
 *   crosses mcp-remote both ways (its own Streamable HTTP client towards the gateway).
 *
 * Every child has a deadline and is killed by then; none outlives the file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { setupOrg, type Stack, startStack } from './harness';

/** The Inspector's launcher (its `bin`); `--cli` hands the rest of the arguments to its CLI. */
const INSPECTOR = path.join(
  path.dirname(require.resolve('@modelcontextprotocol/inspector/package.json')),
  'clients/launcher/build/index.js',
);
const MCP_REMOTE = path.join(path.dirname(require.resolve('mcp-remote/package.json')), 'dist/proxy.js');
/** One Inspector CLI run takes well under a second here; a hang must fail the test, not Jest. */
const CLI_TIMEOUT_MS = 20_000;
/** The gateway's JSON-RPC code for a rate-limited call (-32001 would be the SDK's own timeout). */
const RATE_LIMITED = -32004;

/** A Node >= 22 binary: this one if it is new enough, else the one @toolgate/node22 installed. */
function node22(): string | null {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  return (require('@toolgate/node22') as { nodeBinary: string | null }).nodeBinary;
}
const NODE22 = node22();

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();
/** HOME for the CLIs: where they keep OAuth state and settings, never the user's own. */
const CLI_HOME = mkdtempSync(path.join(tmpdir(), 'tg-real-clients-home-'));

/** Runs the Inspector CLI to completion, or kills it at CLI_TIMEOUT_MS (reported as `signal`). */
function inspector(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE22!, [INSPECTOR, '--cli', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: CLI_HOME, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The SDK client talking to mcp-remote over stdio; mcp-remote talks to `url` with the key. */
async function viaMcpRemote(url: string, key: string, configDir: string): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCP_REMOTE, url, '--header', `Authorization:Bearer ${key}`, '--transport', 'http-only'],
    // Its own config dir (OAuth client registrations and tokens live there), never the user's ~/.mcp-auth.
    env: { ...(process.env as Record<string, string>), HOME: CLI_HOME, MCP_REMOTE_CONFIG_DIR: configDir },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d));
  const client = new Client({ name: 'toolgate-e2e-mcp-remote', version: '1.0.0' });
  await client.connect(transport, { timeout: 15_000 });
  return { client, stderr: () => stderr };
}

/** toolgate_gateway_auth_failures_total{reason} from the gateway's /metrics. */
async function authFailures(stack: Stack, reason: string): Promise<number> {
  const text = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
  return Number(new RegExp(`^toolgate_gateway_auth_failures_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

const SUITE_NAME = 'real clients against the gateway';

describe(SUITE_NAME, () => {
  let stack: Stack;
  let url: string;
  let key: string;
  let limitedUrl: string;
  let limitedKey: string;
  let configDir: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    stack = await startStack();
    const o = await setupOrg(stack);
    url = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
    key = o.key;
    const limited = await setupOrg(stack, {
      rules: { tools: [{ effect: 'allow', match: '*' }], rateLimits: [{ scope: 'key', perMinute: 6, burst: 2 }] },
    });
    limitedUrl = `${stack.gatewayUrl}/mcp/${limited.org.slug}`;
    limitedKey = limited.key;
    configDir = mkdtempSync(path.join(tmpdir(), 'tg-mcp-remote-'));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    for (const child of children) child.kill('SIGKILL');
    await stack?.close();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
    rmSync(CLI_HOME, { recursive: true, force: true });
  });

  (NODE22 ? describe : describe.skip)('MCP Inspector CLI (Node 22)', () => {
    it('lists the aggregated tools', async () => {
      const r = await inspector([url, '--transport', 'http', '--method', 'tools/list', '--header', `Authorization: Bearer ${key}`]);
      expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toMatchObject({ code: 0, signal: null });
      const names = (JSON.parse(r.stdout) as { tools: Array<{ name: string }> }).tools.map((t) => t.name);
      expect(names).toContain('everything__echo');
    });

    it('calls everything__echo and prints its result', async () => {
      const r = await inspector([
        url,
        '--transport',
        'http',
        '--method',
        'tools/call',
        '--tool-name',
        'everything__echo',
        '--tool-arg',
        'message=hi',
        '--header',
        `Authorization: Bearer ${key}`,
      ]);
      expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toMatchObject({ code: 0, signal: null });
      const result = JSON.parse(r.stdout) as { content: Array<{ type: string; text: string }>; isError?: boolean };
      expect(result.isError).toBeFalsy();
      expect(result.content).toEqual([{ type: 'text', text: 'Echo: hi' }]);
    });

    // The gateway answers a wrong key with 401 + WWW-Authenticate (RFC 9728 metadata naming the
    // control plane). Inspector 2.x takes any 401 as "log in with OAuth", and with no TTY it stops
    // at once with its own error code instead of printing the status: the 401 shows in the
    // gateway's counter, the Inspector's verdict in its `auth_required` error.
    it('fails fast with a non-zero exit and auth_required for a wrong key (the gateway answered 401)', async () => {
      const before = await authFailures(stack, 'invalid');
      const started = Date.now();
      const r = await inspector([url, '--transport', 'http', '--method', 'tools/list', '--header', 'Authorization: Bearer tg_wrong_key']);
      expect(r.signal).toBeNull(); // exited by itself, not killed at the deadline
      expect(Date.now() - started).toBeLessThan(CLI_TIMEOUT_MS);
      expect(r.code).not.toBe(0);
      const out = `${r.stdout}\n${r.stderr}`;
      expect(out).toMatch(/"code":\s*"auth_required"|401|unauthori[sz]ed/i);
      expect(await authFailures(stack, 'invalid')).toBeGreaterThan(before);
    });
  });

  if (!NODE22) {
    it('has a Node 22 to run the Inspector CLI with', () => {
      throw new Error('No Node >= 22 for the Inspector CLI: run Jest on Node 22, or install on Linux x64 (@toolgate/node22)');
    });
  }

  describe('mcp-remote (stdio bridge) driven by the SDK client', () => {
    it('lists tools and calls everything__echo through the bridge', async () => {
      const { client, stderr } = await viaMcpRemote(url, key, configDir);
      clients.push(client);
      try {
        const { tools } = await client.listTools(undefined, { timeout: 10_000 });
        expect(tools.map((t) => t.name)).toContain('everything__echo');
        const result = await client.callTool({ name: 'everything__echo', arguments: { message: 'via mcp-remote' } }, undefined, {
          timeout: 10_000,
        });
        expect(result.content).toEqual([{ type: 'text', text: 'Echo: via mcp-remote' }]);
      } catch (e) {
        throw new Error(`${(e as Error).message}\nmcp-remote stderr:\n${stderr().slice(-4000)}`);
      }
    }, 30_000);

    it('hands a rate-limited call to the client as JSON-RPC error -32004', async () => {
      const { client } = await viaMcpRemote(limitedUrl, limitedKey, configDir);
      clients.push(client);
      const call = (i: number) =>
        client.callTool({ name: 'everything__echo', arguments: { message: `n${i}` } }, undefined, { timeout: 10_000 }).then(
          () => null,
          (e: unknown) => e,
        );
      // burst 2: the first two pass, the third is refused.
      const outcomes = [await call(1), await call(2), await call(3)];
      expect(outcomes.slice(0, 2)).toEqual([null, null]);
      const refused = outcomes[2];
      expect(refused).toBeInstanceOf(McpError);
      expect((refused as McpError).code).toBe(RATE_LIMITED);
    }, 30_000);
  });
});
