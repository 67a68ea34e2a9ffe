#!/usr/bin/env node
// Starts the whole product on local Postgres/Redis: writes a .env with fresh secrets on first
// run, makes sure Postgres and Redis answer (scripts/services.mjs), creates and migrates the
// database, then runs every process with prefixed logs. Exit 2: a dependency is not reachable
// (the message says what to run). `--services`: only make sure Postgres and Redis answer.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { writeDotEnv } from './secrets.mjs';
import { ensureServices } from './services.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const envFile = process.env.TOOLGATE_ENV_FILE ?? path.join(root, '.env');
const envName = envFile === path.join(root, '.env') ? '.env' : envFile;

/** The product's processes, once started (a failure stops them too). */
const running = new Set();
/** Stops with a message and the exit code, never a stack trace. */
function fail(message, code = 1) {
  console.error(`\n${message}`);
  for (const c of running) c.kill('SIGTERM');
  process.exit(code);
}
process.on('uncaughtException', (e) => fail(`toolgate: could not start: ${e instanceof Error ? e.message : e}`));
process.on('unhandledRejection', (e) => fail(`toolgate: could not start: ${e instanceof Error ? e.message : e}`));

const fresh = writeDotEnv(envFile);
if (fresh.length) console.log(`${envName}: wrote fresh ${fresh.join(', ')}`);
for (const line of readFileSync(envFile, 'utf8').split('\n')) {
  const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
  if (m && process.env[m[1]] === undefined) process.env[m[1]] = m[2];
}

// Postgres and Redis: start a stopped local one, install one as root on Debian, else say how.
const problems = await ensureServices(process.env, { dataDir: process.env.TOOLGATE_DATA_DIR ?? path.join(root, '.data') });
if (problems.length > 0) {
  const lines = problems.flatMap((p) => [`${p.what} is not reachable. Run:`, ...p.steps.map((s) => `    ${s}`)]);
  fail(`toolgate: cannot start yet.\n${lines.join('\n')}\nthen run this command again.`, 2);
}
if (process.argv.includes('--services')) {
  console.log('PostgreSQL and Redis answer.');
  process.exit(0);
}

// Create the database if needed, then apply migrations (no engine download: see packages/db).
const url = new URL(process.env.DATABASE_URL);
const dbName = url.pathname.slice(1);
const adminUrl = new URL(url);
adminUrl.pathname = '/postgres';
const client = new pg.Client({ connectionString: adminUrl.toString(), connectionTimeoutMillis: 10_000 });
try {
  await client.connect();
  const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
  if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${dbName.replace(/"/g, '')}"`);
} catch (e) {
  fail(
    `toolgate: PostgreSQL at ${url.host} refused us: ${e instanceof Error ? e.message : e}\n` +
      `Check the user and password in DATABASE_URL (${envName}); the user must be allowed to create databases.`,
    2,
  );
} finally {
  await client.end().catch(() => undefined);
}
const step = (args) => {
  const r = spawnSync('pnpm', args, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.status !== 0) fail(`toolgate: \`pnpm ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`, r.status ?? 1);
};
step(['--filter', '@toolgate/db', 'run', 'db:generate']);
step(['--filter', '@toolgate/db', 'run', 'db:migrate']);

// Every process of the product; the worker has no HTTP port here (WORKER_HEALTH_PORT is for containers).
const processes = [
  { name: 'api', cwd: 'apps/api', cmd: ['pnpm', 'run', 'start'] },
  { name: 'worker', cwd: 'apps/api', cmd: ['pnpm', 'run', 'start:worker'] },
  { name: 'gateway', cwd: 'apps/gateway', cmd: ['pnpm', 'run', 'start'] },
  { name: 'web', cwd: 'apps/web', cmd: ['pnpm', 'run', 'start'] },
];

const colors = [36, 35, 33, 32];
const children = processes.map((p, i) => {
  const child = spawn(p.cmd[0], p.cmd.slice(1), { cwd: path.join(root, p.cwd), env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const tag = `\x1b[${colors[i % colors.length]}m${p.name.padEnd(8)}\x1b[0m|`;
  child.on('error', (e) => fail(`toolgate: could not run ${p.name} (${p.cmd.join(' ')}): ${e.message}`));
  const pipe = (stream, out) => {
    let buf = '';
    stream.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const l of lines) out.write(`${tag} ${l}\n`);
    });
  };
  pipe(child.stdout, process.stdout);
  pipe(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    console.log(`${tag} exited (${signal ?? code})`);
    if (!stopping) stop(code ?? 1);
  });
  return child;
});

let stopping = false;
function stop(code = 0) {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 3000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
