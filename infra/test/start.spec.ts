import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { root } from './render';

/** A loopback port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

function start(env: Record<string, string>, args: string[] = []) {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/start.mjs'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const STACK_FRAME = /^\s+at .+[:(]\d+:\d+\)?$/m;

describe('scripts/start.mjs on a machine where Postgres and Redis do not answer', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tg-start-'));
  let pgPort: number;
  let redisPort: number;
  const started: number[] = [];

  beforeAll(async () => {
    pgPort = await freePort();
    redisPort = await freePort();
  });

  afterAll(() => {
    for (const port of started) spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
  });

  it('says what to run for each and exits 2, without a stack trace, when told to start nothing', () => {
    const envFile = path.join(dir, 'a.env');
    writeFileSync(envFile, 'JWT_SECRET=kept-from-before-0123456789abcdef0123456789\nTOOLGATE_SECRET_KEY=\n');
    const r = start({
      TOOLGATE_ENV_FILE: envFile,
      TOOLGATE_START_SERVICES: '0',
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${pgPort}/toolgate`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    expect(r.status).toBe(2);
    expect(r.out).toContain('toolgate: cannot start yet.');
    expect(r.out).toContain(`PostgreSQL (127.0.0.1:${pgPort}, from DATABASE_URL) is not reachable.`);
    expect(r.out).toContain(`Redis (127.0.0.1:${redisPort}, from REDIS_URL) is not reachable.`);
    expect(r.out).toContain(`redis-server --daemonize yes --bind 127.0.0.1 --port ${redisPort} --appendonly yes`);
    expect(r.out).toContain('then run this command again.');
    expect(r.out).not.toMatch(STACK_FRAME);
    expect(r.out).not.toContain('ECONNREFUSED');
    // The secrets: what was set is kept, what was empty is filled with a fresh value.
    const env = readFileSync(envFile, 'utf8');
    expect(env).toContain('JWT_SECRET=kept-from-before-0123456789abcdef0123456789\n');
    expect(env).toMatch(/^TOOLGATE_SECRET_KEY=[0-9a-f]{64}$/m);
  });

  it('starts a local Redis (AOF on, in its data folder) and still says what to run for Postgres', () => {
    const dataDir = path.join(dir, 'data');
    started.push(redisPort);
    const r = start({
      TOOLGATE_ENV_FILE: path.join(dir, 'b.env'),
      TOOLGATE_DATA_DIR: dataDir,
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${pgPort}/toolgate`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    expect(r.out).toContain(`starting Redis on port ${redisPort}`);
    const ping = spawnSync('redis-cli', ['-p', String(redisPort), 'config', 'get', 'appendonly'], { encoding: 'utf8' });
    expect(ping.stdout.split('\n').slice(0, 2)).toEqual(['appendonly', 'yes']);
    const dirOf = spawnSync('redis-cli', ['-p', String(redisPort), 'config', 'get', 'dir'], { encoding: 'utf8' });
    expect(dirOf.stdout).toContain(path.join(dataDir, `redis-${redisPort}`));
    // No cluster of this machine listens on that port: nothing to start, so it says so.
    expect(r.status).toBe(2);
    expect(r.out).toContain(`PostgreSQL (127.0.0.1:${pgPort}, from DATABASE_URL) is not reachable.`);
    expect(r.out).not.toContain('Redis (127.0.0.1');
    expect(r.out).not.toMatch(STACK_FRAME);
  });

  it('names a remote Postgres it cannot reach instead of trying to start one', () => {
    const r = start({
      TOOLGATE_ENV_FILE: path.join(dir, 'c.env'),
      DATABASE_URL: `postgresql://postgres@db.invalid:${pgPort}/toolgate`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    expect(r.status).toBe(2);
    expect(r.out).toContain(`PostgreSQL at db.invalid:${pgPort} is not reachable: start it, or set DATABASE_URL to one that is.`);
    expect(r.out).not.toMatch(STACK_FRAME);
  });
});

describe('scripts/start.mjs with a local PostgreSQL that is installed but stopped', () => {
  // A throwaway Debian cluster on a free port (the machine's own cluster is left alone).
  const version = spawnSync('sh', ['-c', 'ls /usr/lib/postgresql | sort -n | tail -1'], { encoding: 'utf8' }).stdout.trim();
  let name = '';
  let port = 0;

  beforeAll(async () => {
    port = await freePort();
    name = `tgstart${port}`;
    const made = spawnSync('pg_createcluster', [version, name, '-p', String(port), '--start-conf', 'manual'], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`pg_createcluster failed (needs root and Debian's postgresql): ${made.stderr}`);
  });

  afterAll(() => {
    if (name) spawnSync('pg_dropcluster', ['--stop', version, name], { stdio: 'ignore' });
  });

  it('starts it (pg_ctlcluster) and goes on', async () => {
    const redisPort = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'tg-start-pg-'));
    try {
      const r = start(
        {
          TOOLGATE_ENV_FILE: path.join(dir, '.env'),
          TOOLGATE_DATA_DIR: path.join(dir, 'data'),
          DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/toolgate`,
          REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        },
        ['--services'],
      );
      expect(r.out).toContain(`starting PostgreSQL ${version}/${name} on port ${port}`);
      expect(r.out).toContain('PostgreSQL and Redis answer.');
      expect(r.status).toBe(0);
      const ready = spawnSync('pg_isready', ['-h', '127.0.0.1', '-p', String(port)], { encoding: 'utf8' });
      expect(ready.status).toBe(0);
    } finally {
      spawnSync('redis-cli', ['-p', String(redisPort), 'shutdown', 'nosave'], { stdio: 'ignore' });
    }
  });
});
