// Makes sure Postgres and Redis answer before the product starts. A local installation that is
// merely stopped is started (pg_ctlcluster, redis-server --daemonize); on Debian/Ubuntu as root a
// missing one is installed from Debian's packages first. Otherwise it says exactly what to run.
// TOOLGATE_START_SERVICES=0 only checks and reports (starts and installs nothing).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const quiet = (cmd, args) => spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves true when something accepts TCP connections on host:port within `ms`. */
export function listening(host, port, ms = 1500) {
  return new Promise((resolve) => {
    const s = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitFor(host, port, seconds) {
  for (let i = 0; i < seconds * 4; i++) {
    if (await listening(host, port, 500)) return true;
    await sleep(250);
  }
  return false;
}

const canInstall = () => process.getuid?.() === 0 && has('apt-get');
function aptInstall(pkg, log) {
  log(`installing Debian's ${pkg}…`);
  let r = quiet('apt-get', ['install', '-y', '-q', pkg]);
  if (r.status !== 0) {
    quiet('apt-get', ['update', '-q']);
    r = quiet('apt-get', ['install', '-y', '-q', pkg]);
  }
  return r.status === 0;
}

/** Debian clusters (/etc/postgresql/VERSION/NAME) with the port each listens on. */
function pgClusters() {
  const out = [];
  if (!existsSync('/etc/postgresql')) return out;
  for (const version of readdirSync('/etc/postgresql')) {
    for (const name of readdirSync(path.join('/etc/postgresql', version))) {
      const conf = path.join('/etc/postgresql', version, name, 'postgresql.conf');
      if (!existsSync(conf)) continue;
      const port = Number(/^\s*port\s*=\s*(\d+)/m.exec(readFileSync(conf, 'utf8'))?.[1] ?? 5432);
      out.push({ version, name, port, dir: path.dirname(conf) });
    }
  }
  return out;
}

/** A cluster we installed ourselves: let local TCP connections in without a password (dev only). */
function trustLoopback(cluster) {
  const hba = path.join(cluster.dir, 'pg_hba.conf');
  const text = readFileSync(hba, 'utf8');
  if (text.includes('# toolgate: loopback trust')) return;
  writeFileSync(hba, `# toolgate: loopback trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n${text}`);
}

async function ensurePostgres(url, { start, log }) {
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 5432);
  if (await listening(host, port)) return null;
  const local = LOCAL_HOSTS.has(host);
  if (start && local) {
    let clusters = pgClusters();
    let installed = false;
    if (clusters.length === 0 && !has('pg_ctlcluster') && canInstall() && aptInstall('postgresql', log)) {
      clusters = pgClusters();
      installed = true;
    }
    const cluster = clusters.find((c) => c.port === port);
    if (cluster) {
      if (installed) trustLoopback(cluster);
      log(`starting PostgreSQL ${cluster.version}/${cluster.name} on port ${port}…`);
      quiet('pg_ctlcluster', ['--skip-systemctl-redirect', cluster.version, cluster.name, 'start']);
      // The package's own scripts may have started it already, before pg_hba.conf changed.
      if (installed) quiet('pg_ctlcluster', ['--skip-systemctl-redirect', cluster.version, cluster.name, 'reload']);
      if (await waitFor(host, port, 30)) return null;
    }
  }
  const clusters = pgClusters();
  const steps = !local
    ? [`PostgreSQL at ${host}:${port} is not reachable: start it, or set DATABASE_URL to one that is.`]
    : clusters.some((c) => c.port === port)
      ? clusters.filter((c) => c.port === port).map((c) => `sudo pg_ctlcluster ${c.version} ${c.name} start`)
      : has('pg_ctlcluster') || clusters.length > 0
        ? [
            `No local PostgreSQL cluster listens on port ${port}. Start yours, or point DATABASE_URL at it (e.g. ${clusters.map((c) => c.port).join(', ') || 5432}).`,
          ]
        : [
            'sudo apt-get install -y postgresql   (Debian/Ubuntu; elsewhere: install PostgreSQL 14+)',
            `then allow local connections without a password for the user in DATABASE_URL (pg_hba.conf: host all all 127.0.0.1/32 trust), or put its password in DATABASE_URL`,
          ];
  return { what: `PostgreSQL (${host}:${port}, from DATABASE_URL)`, steps };
}

async function ensureRedis(url, { start, log, dataDir }) {
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await listening(host, port)) return null;
  const local = LOCAL_HOSTS.has(host);
  const dir = path.join(dataDir, `redis-${port}`);
  const command = `redis-server --daemonize yes --bind 127.0.0.1 --port ${port} --appendonly yes --appendfsync everysec --maxmemory-policy noeviction --dir ${dir}`;
  if (start && local) {
    if (has('redis-server') || (canInstall() && aptInstall('redis-server', log))) {
      log(`starting Redis on port ${port} (AOF in ${dir})…`);
      mkdirSync(dir, { recursive: true });
      quiet('sh', ['-c', `${command} --logfile ${path.join(dir, 'redis.log')}`]);
      if (await waitFor(host, port, 15)) return null;
    }
  }
  const steps = !local
    ? [`Redis at ${host}:${port} is not reachable: start it, or set REDIS_URL to one that is.`]
    : has('redis-server')
      ? [`mkdir -p ${dir} && ${command}`]
      : ['sudo apt-get install -y redis-server   (Debian/Ubuntu; elsewhere: install Redis 7)', `then: mkdir -p ${dir} && ${command}`];
  return { what: `Redis (${host}:${port}, from REDIS_URL)`, steps };
}

/** Returns the problems left (empty when both answer). */
export async function ensureServices(env, { dataDir, log = (m) => console.log(m) }) {
  const start = env.TOOLGATE_START_SERVICES !== '0';
  const problems = [];
  for (const [name, fn, fallback] of [
    ['DATABASE_URL', ensurePostgres, 'postgresql://postgres@127.0.0.1:5432/toolgate'],
    ['REDIS_URL', ensureRedis, 'redis://127.0.0.1:6379'],
  ]) {
    let url;
    try {
      url = new URL(env[name] || fallback);
    } catch {
      problems.push({ what: name, steps: [`${name} is not a valid URL: ${env[name]}`] });
      continue;
    }
    const p = await fn(url, { start, log, dataDir });
    if (p) problems.push(p);
  }
  return problems;
}
