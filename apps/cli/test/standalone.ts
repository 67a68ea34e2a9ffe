import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export const CLI = path.join(__dirname, '../bin/toolgate.js');

/** Every gateway process a test started: none outlives the test file, whatever failed. */
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** server-everything's stdio entry, by its real path (inside the sandbox's vetted node_modules). */
export const EVERYTHING = realpathSync(require.resolve('@modelcontextprotocol/server-everything/dist/index.js'));
/** The gateway tests' own stdio fixture server (tools: echo, add, …). */
export const FIXTURE = path.join(__dirname, '../../gateway/test/fixtures/stdio-server.mjs');

export const KEY = 'tg_standalone_test_key_0123456789';
export const OTHER_KEY = 'tg_standalone_other_key_987654321';

export interface Running {
  dir: string;
  file: string;
  url: string;
  /** Everything it wrote on stderr so far (the operator log). */
  log(): string;
  write(yaml: string): void;
  stop(): Promise<void>;
  /** Kills it with no chance to close anything, as a crash would. */
  crash(): Promise<void>;
}

/** A temp directory with `yaml` as toolgate.yaml. */
export function configDir(yaml: string): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tg-standalone-'));
  const file = path.join(dir, 'toolgate.yaml');
  writeFileSync(file, yaml);
  return { dir, file };
}

/** The environment of a standalone gateway under test: the test sandbox settings and the keys. */
export function gatewayEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, TEST_KEY: KEY, OTHER_KEY, ...extra };
}

/** `toolgate gateway --config` as a real process on `port` (default: a free one); resolves once it listens. */
export async function startGateway(yaml: string, extra: Record<string, string> = {}, port = 0): Promise<Running> {
  const { dir, file } = configDir(yaml);
  // The reload tests read the info lines of the operator log.
  const child: ChildProcess = spawn(process.execPath, [CLI, 'gateway', '--config', file, '--port', String(port), '--json-logs'], {
    env: gatewayEnv({ LOG_LEVEL: 'info', ...extra }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let err = '';
  let out = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`toolgate exited with ${code}:\n${err}`)));
  });
  return {
    dir,
    file,
    url,
    log: () => err,
    write: (text) => writeFileSync(file, text),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
    crash: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function connect(url: string, key = KEY): Promise<Client> {
  const client = new Client({ name: 'standalone-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }),
  );
  return client;
}

/** The JSON-RPC error code a call ends with (null when it succeeds). */
export async function errorCode(p: Promise<unknown>): Promise<number | null> {
  try {
    await p;
    return null;
  } catch (e) {
    return (e as { code?: number }).code ?? null;
  }
}

/** A config with server-everything, a role allowing it except get-env and limiting get-sum, and two keys from the environment. */
export function baseConfig(extraServers = '', keys = ['laptop', 'ci']): string {
  const keyEntries = keys.map((k) => `  ${k}:\n    roles: [dev]\n    env: ${k === 'laptop' ? 'TEST_KEY' : 'OTHER_KEY'}\n`).join('');
  return `version: 1
org: local
listen: {host: 127.0.0.1, port: 0}
servers:
  everything:
    transport: stdio
    command: node
    args: ["${EVERYTHING}", "stdio"]
${extraServers}roles:
  dev:
    tools:
      - {effect: allow, match: "*"}
      - {effect: deny, match: "everything__get-env"}
    rateLimits:
      - {scope: tool, match: "everything__get-sum", perMinute: 1, burst: 1}
keys:
${keyEntries}`;
}

/** Polls `check` until it holds or `ms` passed; returns how long it took, or throws. */
export async function within(ms: number, check: () => Promise<boolean>, what = 'the condition'): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
