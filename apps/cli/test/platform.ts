import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadEnv } from '../../api/src/config/env';
import { startWorker } from '../../api/src/worker';
import { type Stack, startStack, uniq } from '../../gateway/test/harness';

// The shared test-database helpers (plain JS, as every package's Jest setup uses them).
const { prepareTestDatabases, dropTestDatabases, testEnv } = require('../../../scripts/test-db.js');

export const CLI = path.join(__dirname, '../bin/toolgate.js');

/** The real platform in this process: API, one gateway worker and the event consumers, on a database of its own. */
export interface Platform {
  stack: Stack;
  apiUrl: string;
  close(): Promise<void>;
}

/**
 * The CLI's other tests need no database, so this file's database is made here rather than by a
 * Jest globalSetup for every CLI test run.
 */
export async function startPlatform(): Promise<Platform> {
  const prefix = `tg_test_cli_manage_${process.pid}`;
  await prepareTestDatabases({ prefix, workers: 1 });
  const worker = Number(process.env.JEST_WORKER_ID ?? 1);
  Object.assign(process.env, testEnv(prefix, 1), { REDIS_URL: testEnv(prefix, worker).REDIS_URL });
  const stack = await startStack({ gateways: 1 });
  let consumers: Awaited<ReturnType<typeof startWorker>>;
  try {
    // Gateway calls and admin actions reach the audit chain and the usage roll-ups through these.
    consumers = await startWorker(
      loadEnv({
        ...process.env,
        QUEUE_PREFIX: stack.queuePrefix,
        AUDIT_BATCH_WAIT_MS: '10',
        AUDIT_ACTIVITY_INTERVAL_MS: '200',
        AUDIT_ACTIVITY_SETTLE_MS: '1000',
      }),
      { logger: false },
    );
  } catch (e) {
    await stack.close();
    throw e;
  }
  return {
    stack,
    apiUrl: stack.apiUrl,
    close: async () => {
      await consumers.close();
      await stack.close();
      await dropTestDatabases(prefix);
    },
  };
}

/** A person with an org, signed in (JWT), as the dashboard would be. */
export class Person {
  /** The person's session (JWT), which sees every org they belong to. */
  token = '';
  org = '';
  constructor(private readonly apiUrl: string) {}

  // biome-ignore lint/suspicious/noExplicitAny: test client; each test knows the shape it asked for.
  async call<T = any>(method: string, p: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.apiUrl}${p}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async signup(): Promise<this> {
    const r = await this.call('POST', '/v1/auth/signup', {
      email: `${uniq('cli')}@example.test`,
      password: 'correct horse battery',
      name: 'CLI',
    });
    this.token = r.accessToken;
    return this;
  }

  async signupWithOrg(): Promise<this> {
    await this.signup();
    this.org = await this.createOrg();
    return this;
  }

  async createOrg(): Promise<string> {
    return (await this.call('POST', '/v1/orgs', { name: 'CLI test', slug: uniq('cli') })).slug;
  }

  /** A personal access token bound to the org. */
  async personalToken(scopes = ['read', 'manage']): Promise<string> {
    return (await this.call('POST', '/v1/me/tokens', { name: uniq('laptop'), org: this.org, scopes })).token;
  }

  /** A service account token of the org, and its id (to revoke it). */
  async serviceToken(scopes = ['read', 'manage']): Promise<{ token: string; id: string }> {
    const t = await this.call('POST', `/v1/orgs/${this.org}/tokens`, { name: uniq('ci'), scopes });
    return { token: t.token, id: t.id };
  }
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  // biome-ignore lint/suspicious/noExplicitAny: parsed --json output; each test knows its shape.
  json: any;
}

/**
 * `node apps/cli/bin/toolgate.js ARGS` as a user runs it, with its config under `configHome`
 * (XDG_CONFIG_HOME) and no TOOLGATE_* variables but those given. Asynchronous: the API it talks
 * to runs in this process.
 */
export function cli(configHome: string, args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: configHome, ...opts.env };
  for (const name of ['TOOLGATE_API', 'TOOLGATE_TOKEN', 'TOOLGATE_ORG']) if (!opts.env?.[name]) delete env[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (status) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ status, stdout, stderr, json });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export const tempDir = (name: string) => mkdtempSync(path.join(tmpdir(), `tg-${name}-`));

export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
