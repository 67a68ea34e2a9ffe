#!/usr/bin/env node
// `pnpm bench`: Toolgate's gateways (platform and standalone) side by side with the same MCP echo
// server reached directly, through mcp-proxy and through supergateway, on loopback only. See
// bench/README.md for what each target is and the method; results are printed as tables and
// written to bench/results/latest.json.
//
//   node scripts/bench.mjs [--seconds 5] [--rounds 3] [--concurrency 1,10,32] [--warmup 1]
//                          [--targets direct,direct-sse,gateway,gateway-os,gateway-paused,standalone,bare-proxy,mcp-proxy,supergateway,events,keys]
//                          [--memory-sessions 32] [--gateway-upstream http|stdio]
//                          [--key-counts 1,10,50] [--key-pause-ms 100]  (the keys case: memory per active key)
//                          [--event-workers 2] (also the `gateway` target's co-located workers)
//                          [--event-sessions 32] [--event-seconds 15] [--event-drain-limit 5]
//                          [--profile]   (gateway child and event workers under --cpu-prof; bench/results/profiles)
//                          [--max-foreign-cpu 10]  (repeat a round when other work took more than this % of CPU)
//                          [--patience 90]  (seconds the run may spend in all waiting for a quiet machine / repeating)
//   Experiments (not for the published numbers): [--gateway-env K=V,K=V] extra gateway env;
//   [--no-ratelimit] the role without its rate-limit rule (no Redis call per request);
//   [--gateway-node-options "--trace-gc ..."] node flags for the gateway; [--gateway-log FILE] its output;
//   [--worker-env K=V,K=V] extra env for the events case's worker processes (e.g. AUDIT_BATCH_SIZE=1000).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { benchAB, reportAB } from '../bench/ab.mjs';
import { benchKeys, reportKeys } from '../bench/keys.mjs';
import { computeRatios, computeVerdicts } from '../bench/ratios.mjs';
import {
  killTree,
  killTreeNow,
  liveTree,
  pidsByName,
  postgresPids,
  processCpuMs,
  systemCpuMs,
  treeCpuMs,
  treeMemory,
} from '../bench/proc.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = path.join(ROOT, 'bench');
const GATEWAY_DIR = path.join(ROOT, 'apps', 'gateway');
const API_DIR = path.join(ROOT, 'apps', 'api');
const ECHO = path.join(BENCH, 'echo-server.mjs');
const CLI_BIN = path.join(ROOT, 'apps', 'cli', 'bin', 'toolgate.js');
// The stdio echo server runs in the stdio sandbox like any tenant's: its code is a vetted path.
const SANDBOX_PATHS = [BENCH, path.join(ROOT, 'node_modules'), path.join(GATEWAY_DIR, 'node_modules')].join(',');
const STDIO_UPSTREAM = 'echo-server over stdio, a sandboxed child of the gateway';
const require = createRequire(import.meta.url);
const gwRequire = createRequire(path.join(GATEWAY_DIR, 'package.json'));
const { prepareTestDatabases, dropTestDatabases, PG, REDIS } = require('./test-db.js');
const Redis = require('ioredis');

// ---- options ------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? def : argv[i + 1];
};
const OPTS = {
  seconds: Number(opt('seconds', process.env.BENCH_SECONDS ?? 5)),
  rounds: Number(opt('rounds', process.env.BENCH_ROUNDS ?? 3)),
  warmup: Number(opt('warmup', 1)),
  concurrency: String(opt('concurrency', '1,10,32')).split(',').map(Number),
  targets: String(
    opt('targets', 'direct,direct-sse,gateway,gateway-os,gateway-paused,standalone,bare-proxy,mcp-proxy,supergateway,events,keys'),
  ).split(','),
  /**
   * What the platform gateway fronts: `http` (default), the echo server over Streamable HTTP in
   * the same JSON mode as `direct`, so gateway/direct is the cost of the gateway and nothing else;
   * `stdio`, the echo server as a sandboxed stdio child (what mcp-proxy and supergateway front).
   * The `keys` case always uses stdio: per-key isolation is what it measures.
   */
  gatewayUpstream: String(opt('gateway-upstream', 'http')),
  memorySessions: Number(opt('memory-sessions', 32)),
  profile: argv.includes('--profile'),
  gatewayEnv: Object.fromEntries(
    String(opt('gateway-env', ''))
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  ),
  rateLimit: !argv.includes('--no-ratelimit'),
  /** Experiment: the gateway's stdout and stderr from startup on go to this file (e.g. with --gateway-node-options --trace-gc). */
  gatewayLog: opt('gateway-log', null),
  /**
   * The gateway's package directory to run (default: this checkout's apps/gateway). Another
   * checkout's (e.g. `git archive <commit> | tar -x -C /tmp/base`) measures a before/after pair;
   * it borrows this checkout's dependencies (NODE_PATH), so it needs no install of its own.
   */
  gatewayDir: path.resolve(String(opt('gateway-dir', GATEWAY_DIR))),
  /** Target `gateway-ab`: another checkout's gateway package directory (as --gateway-dir), B against A = --gateway-dir. */
  baseline: opt('baseline', null),
  /** Experiment: extra node flags for the gateway process, space-separated. */
  gatewayNodeOptions: String(opt('gateway-node-options', '')).split(' ').filter(Boolean),
  /** A round in which processes outside the measurement used more than this % of the CPU is repeated. */
  maxForeignCpu: Number(opt('max-foreign-cpu', 10)),
  /** Seconds the whole run may spend waiting for a quiet machine and repeating rounds. */
  patience: Number(opt('patience', 90)),
  // The `events` case: gateway → tg-audit / tg-usage → worker process(es) → Postgres.
  /** Worker processes (apps/api/src/worker.ts) consuming the gateway's events: replicas, as production may run. */
  eventWorkers: Number(opt('event-workers', 2)),
  /** Concurrent sessions driving the gateway (its peak is at 32). */
  eventSessions: Number(opt('event-sessions', 32)),
  /** Seconds of load (default: one concurrency step's measured time, rounds × seconds). */
  eventSeconds:
    Number(opt('event-seconds', 0)) ||
    Number(opt('seconds', process.env.BENCH_SECONDS ?? 5)) * Number(opt('rounds', process.env.BENCH_ROUNDS ?? 3)),
  /** The worker keeps up if it stores ≥ 95 % of the event rate during load and drains within this many seconds after. */
  eventDrainLimit: Number(opt('event-drain-limit', 5)),
  // The `keys` case (bench/keys.mjs): N agent keys, each with a session calling the stdio echo server.
  /** Numbers of active keys measured, cumulative. */
  keyCounts: String(opt('key-counts', '1,10,50')).split(',').map(Number),
  /** Each key's session calls echo, waits this long, calls again. */
  keyPauseMs: Number(opt('key-pause-ms', 100)),
  workerEnv: Object.fromEntries(
    String(opt('worker-env', ''))
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  ),
};
if (!['http', 'stdio'].includes(OPTS.gatewayUpstream)) throw new Error('--gateway-upstream is http or stdio');
const TOOL = {
  direct: 'echo',
  'direct-sse': 'echo',
  gateway: 'echo__echo',
  'bare-proxy': 'echo',
  'mcp-proxy': 'echo',
  supergateway: 'echo',
};
const PROTOCOL = '2025-11-25';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(1).padStart(5)}s] ${a.join(' ')}\n`);
const T0 = performance.now();

// ---- ownership: everything started here is stopped here ------------------------------------------

/** Root pids of every process tree this run started and has not stopped yet. */
const owned = new Set();
const cleanups = [];
let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        log(`cleanup: ${e.message}`);
      }
    }
    for (const pid of owned) await killTree(pid);
    owned.clear();
  })();
  return cleaning;
}
process.on('exit', () => {
  for (const pid of owned) killTreeNow(pid);
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Child env without anything that could send telemetry off the machine. */
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && !/_proxy$/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function start(command, args, { cwd = ROOT, env = childEnv(), stdout = 'pipe' } = {}) {
  const child = spawn(command, args, { cwd, env, stdio: ['pipe', stdout, 'pipe'] });
  owned.add(child.pid);
  child.stderrTail = '';
  child.stderr.on('data', (d) => {
    child.stderrTail = (child.stderrTail + d).slice(-4000);
  });
  child.on('exit', () => owned.delete(child.pid));
  return child;
}

/** SIGTERM the root (graceful: the gateway flushes events, --cpu-prof writes), then the whole tree. */
async function stop(child, graceMs = 10_000) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(graceMs)]);
  }
  const stubborn = await killTree(child.pid);
  owned.delete(child.pid);
  return stubborn;
}

function firstLine(child, match, timeoutMs) {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`no "${match}" within ${timeoutMs} ms; stderr: ${child.stderrTail}`)), timeoutMs);
    rl.on('line', (line) => {
      const m = line.match(match);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before "${match}"; stderr: ${child.stderrTail}`)));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(url, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Addresses a process's network namespace listens on for `port` (from /proc/<pid>/net/tcp{,6}). */
function listeners(pid, port) {
  const out = [];
  for (const file of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue;
      const [addr, p] = f[1].split(':');
      if (Number.parseInt(p, 16) !== port) continue;
      out.push(file === 'tcp' ? hexToIpv4(addr) : hexToIpv6(addr));
    }
  }
  return out;
}
const hexToIpv4 = (h) => [3, 2, 1, 0].map((i) => Number.parseInt(h.slice(i * 2, i * 2 + 2), 16)).join('.');
function hexToIpv6(h) {
  if (h === '0'.repeat(32)) return '::';
  if (h === '00000000000000000000000001000000') return '::1';
  if (h.startsWith('0000000000000000FFFF0000')) return `::ffff:${hexToIpv4(h.slice(24))}`;
  return h;
}
const netns = (pid) => readlinkSync(`/proc/${pid}/ns/net`);

// ---- the load generator process ------------------------------------------------------------------

class Driver {
  /** @param {{ isolated?: boolean }} o  isolated: run in a fresh network namespace (unshare -rn) with only lo up */
  constructor({ isolated = false } = {}) {
    const args = [path.join(BENCH, 'driver.mjs')];
    this.child = isolated
      ? start('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...args], { stdout: 'pipe' })
      : start(process.execPath, args, { stdout: 'pipe' });
    this.child.stderr.on('data', (d) => process.stderr.write(d));
    this.pending = [];
    createInterface({ input: this.child.stdout }).on('line', (line) => this.pending.shift()?.(JSON.parse(line)));
    this.child.once('exit', (code) => {
      for (const p of this.pending.splice(0)) p({ ok: false, error: `driver exited with ${code}` });
    });
  }
  async send(cmd) {
    const reply = await new Promise((resolve) => {
      this.pending.push(resolve);
      this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    });
    if (!reply.ok) throw new Error(`driver ${cmd.cmd}: ${reply.error}`);
    return reply;
  }
  async exit() {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.stdin.write('{"cmd":"exit"}\n');
      this.child.stdin.end();
      await Promise.race([exited, sleep(8000)]);
    }
    await stop(this.child, 1000);
  }
}

// ---- targets -------------------------------------------------------------------------------------

/** The echo server over the SDK's Streamable HTTP transport (stateful), answering JSON or SSE. */
async function startEcho({ json }) {
  const child = start(process.execPath, [ECHO, '--http', '0', ...(json ? ['--json'] : [])]);
  const [, url] = await firstLine(child, /^(http:\/\/\S+)$/, 20_000);
  const port = Number(new URL(url).port);
  const binding = `echo-server --http${json ? ' --json' : ''} (answers ${json ? 'JSON' : 'SSE'}) listens on ${listeners(child.pid, port).join(', ')}`;
  return { child, url, binding };
}

/** Direct: the agent talks to the echo server itself; `direct` answers JSON (the headline), `direct-sse` SSE. */
async function startDirect({ json = true } = {}) {
  const echo = await startEcho({ json });
  const driver = new Driver();
  return {
    name: json ? 'direct' : 'direct-sse',
    url: echo.url,
    headers: {},
    rootPid: echo.child.pid,
    driver,
    binding: echo.binding,
    stop: async () => {
      await driver.exit();
      return stop(echo.child);
    },
  };
}

/**
 * `bare-proxy` (bench/bare-proxy.mjs): a Node reverse proxy that only relays, in front of the same
 * JSON echo server as the gateways: the floor for any HTTP-to-HTTP gateway in Node on this box.
 */
async function startBareProxy() {
  const echo = await startEcho({ json: true });
  const child = start(process.execPath, [path.join(BENCH, 'bare-proxy.mjs'), echo.url]);
  const [, url] = await firstLine(child, /^(http:\/\/\S+)$/, 20_000);
  const driver = new Driver();
  return {
    name: 'bare-proxy',
    url,
    headers: {},
    rootPid: child.pid,
    upstreamPid: echo.child.pid,
    driver,
    binding: `bare-proxy listens on ${listeners(child.pid, Number(new URL(url).port)).join(', ')}; upstream: ${echo.binding}`,
    stop: async () => {
      await driver.exit();
      const stubborn = await stop(child);
      await stop(echo.child);
      return stubborn;
    },
  };
}

async function startMcpProxy() {
  const port = await freePort();
  const bin = gwRequire.resolve('mcp-proxy/package.json').replace(/package\.json$/, 'dist/bin/mcp-proxy.mjs');
  const child = start(process.execPath, [
    bin,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--server',
    'stream',
    '--',
    process.execPath,
    ECHO,
  ]);
  const driver = new Driver();
  const url = `http://127.0.0.1:${port}/mcp`;
  const until = Date.now() + 30_000;
  while (listeners(child.pid, port).length === 0) {
    if (Date.now() > until || child.exitCode !== null) throw new Error(`mcp-proxy did not listen: ${child.stderrTail}`);
    await sleep(100);
  }
  return {
    name: 'mcp-proxy',
    url,
    headers: {},
    rootPid: child.pid,
    driver,
    binding: `mcp-proxy --host 127.0.0.1 listens on ${listeners(child.pid, port).join(', ')}`,
    stop: async () => {
      await driver.exit();
      return stop(child);
    },
  };
}

/**
 * supergateway has no host/bind option (express app.listen(port): every interface), so it runs
 * in a private network namespace (unshare -rn: only `lo`, no route anywhere) that the driver
 * creates and starts it in; the load comes from inside that namespace.
 */
async function startSupergateway() {
  const driver = new Driver({ isolated: true });
  const port = 8000;
  const bin = gwRequire.resolve('supergateway/package.json').replace(/package\.json$/, 'dist/index.js');
  const { pid } = await driver.send({
    cmd: 'spawn',
    command: process.execPath,
    args: [
      bin,
      '--stdio',
      `${process.execPath} ${ECHO}`,
      '--outputTransport',
      'streamableHttp',
      '--stateful',
      '--port',
      String(port),
      '--logLevel',
      'none',
    ],
    env: {},
    port,
  });
  const ns = netns(pid) === netns(process.pid) ? 'THE HOST NAMESPACE (not isolated!)' : 'a private network namespace (lo only)';
  return {
    name: 'supergateway',
    url: `http://127.0.0.1:${port}/mcp`,
    headers: {},
    rootPid: pid,
    driver,
    binding: `supergateway listens on ${listeners(pid, port).join(', ')} inside ${ns}; driver in the same namespace`,
    stop: async () => {
      await driver.exit();
      return [];
    },
  };
}

/**
 * Redis DB index of our own, empty now: TEST_REDIS_DB_BASE and the next few when set (the indexes
 * given to this checkout's runs on a shared machine), else the highest of 15..8.
 */
async function pickRedisDb() {
  const base = process.env.TEST_REDIS_DB_BASE;
  const candidates = base === undefined ? [15, 14, 13, 12, 11, 10, 9, 8] : [0, 1, 2, 3].map((i) => (Number(base) + i) % 16);
  for (const db of candidates) {
    const r = new Redis(`${REDIS}/${db}`, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await r.connect();
    const size = await r.dbsize();
    r.disconnect();
    if (size === 0) return db;
  }
  throw new Error(`no empty Redis DB index among ${candidates.join(', ')}`);
}

/**
 * The real stack: a migrated database of its own, the API (child process), an org with the echo
 * server (`upstream`: over HTTP in JSON mode, a process of its own, or as a sandboxed stdio child
 * of the gateway), a role allowing echo__echo with a rate limit far above what the bench reaches,
 * an agent key, then the gateway (child process) with events on (BullMQ, own key prefix).
 */
async function startGateway({ dir = OPTS.gatewayDir, tag = '', upstream = OPTS.gatewayUpstream, env = {} } = {}) {
  const dbPrefix = `tg_bench_${process.pid}${tag}`;
  const redisDb = await pickRedisDb();
  const redisUrl = `${REDIS}/${redisDb}`;
  const queuePrefix = `tgbench-${process.pid}${tag}`;
  const spoolDir = path.join(os.tmpdir(), `${queuePrefix}-spool`);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => {
    // Only what this stack wrote: Toolgate's keys and our BullMQ prefix, in the DB we picked empty.
    let removed = 0;
    for (const match of ['tg:*', `${queuePrefix}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        if (keys.length) removed += await redis.unlink(...keys);
      } while (cursor !== '0');
    }
    const left = await redis.dbsize();
    redis.disconnect();
    log(`redis db ${redisDb}: removed ${removed} keys${left ? `, ${left} left that this run did not write` : ''}`);
  });

  log(`gateway stack: creating and migrating database ${dbPrefix}_1`);
  cleanups.push(async () => {
    await dropTestDatabases(dbPrefix);
    log(`dropped databases ${dbPrefix}_*`);
  });
  await prepareTestDatabases({ prefix: dbPrefix, workers: 1 });
  cleanups.push(() => rmSync(spoolDir, { recursive: true, force: true }));

  const secretKey = randomBytes(32).toString('hex');
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const gwPort = await freePort();
  const gwUrl = `http://127.0.0.1:${gwPort}`;
  const common = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    TOOLGATE_SECRET_KEY: secretKey,
    PUBLIC_API_URL: apiUrl,
    PUBLIC_GATEWAY_URL: gwUrl,
  };
  log('gateway stack: starting the API');
  const api = start(process.execPath, ['-r', '@swc-node/register', 'src/main.ts'], {
    cwd: API_DIR,
    env: childEnv({
      ...common,
      API_PORT: String(apiPort),
      // Its queues (and their meta keys) under our prefix too, so the cleanup leaves the DB empty.
      QUEUE_PREFIX: queuePrefix,
      DATABASE_URL: `${PG}/${dbPrefix}_1`,
      JWT_SECRET: randomBytes(32).toString('hex'),
      CORS_ORIGINS: 'http://127.0.0.1:3000',
    }),
  });
  api.stdout.resume();
  await waitHttp(`${apiUrl}/healthz`, 60_000);

  // Provision through the REST API, as the dashboard would.
  let token = '';
  const call = async (method, p, body) => {
    const res = await fetch(`${apiUrl}${p}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${p} → ${res.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  token = (
    await call('POST', '/v1/auth/signup', {
      email: `bench-${process.pid}@example.test`,
      password: randomBytes(12).toString('hex'),
      name: 'Bench',
    })
  ).accessToken;
  const org = await call('POST', '/v1/orgs', { name: 'Bench', slug: `bench-${process.pid}` });
  const echo = upstream === 'http' ? await startEcho({ json: true }) : null;
  await call(
    'POST',
    `/v1/orgs/${org.slug}/servers`,
    echo
      ? { slug: 'echo', name: 'Echo', transport: 'streamable-http', url: echo.url }
      : { slug: 'echo', name: 'Echo', transport: 'stdio', command: process.execPath, args: [ECHO] },
  );
  const role = await call('POST', `/v1/orgs/${org.slug}/roles`, {
    name: 'bench-agents',
    rules: {
      tools: [{ effect: 'allow', match: 'echo__echo' }],
      // Checked on every call (one Redis Lua call), never reached: 1M/min = 16,667/s per key.
      rateLimits: OPTS.rateLimit ? [{ scope: 'key', perMinute: 1_000_000, burst: 1_000_000 }] : [],
    },
  });
  const newKey = async (name) => (await call('POST', `/v1/orgs/${org.slug}/keys`, { name, roleIds: [role.id] })).key;
  const key = await newKey('bench-agent');

  log(`gateway stack: starting the gateway${dir === GATEWAY_DIR ? '' : ` from ${dir}`}${OPTS.profile ? ' under --cpu-prof' : ''}`);
  const profileDir = path.join(BENCH, 'results', 'profiles');
  if (OPTS.profile) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const gw = start(
    process.execPath,
    [
      // V8's default 1 ms sampling: at 100 µs the profiler itself cut the gateway's calls/s to a quarter.
      ...(OPTS.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
      ...OPTS.gatewayNodeOptions,
      '-r',
      '@swc-node/register',
      'src/main.ts',
    ],
    {
      cwd: dir,
      env: childEnv({
        ...common,
        ...(dir === GATEWAY_DIR ? {} : { NODE_PATH: path.join(GATEWAY_DIR, 'node_modules') }),
        GATEWAY_PORT: String(gwPort),
        QUEUE_PREFIX: queuePrefix,
        SPOOL_DIR: spoolDir,
        // The echo server runs in the stdio sandbox like any tenant's: its code is a vetted path.
        STDIO_SANDBOX_PATHS: SANDBOX_PATHS,
        // The HTTP upstream is on loopback, which the gateway refuses unless the operator allows it.
        HTTP_UPSTREAM_ALLOW: '127.0.0.1/32',
        ...env,
        ...OPTS.gatewayEnv,
      }),
    },
  );
  await firstLine(gw, /gateway listening on/, 60_000);
  if (OPTS.gatewayLog) {
    const log = createWriteStream(tag ? `${OPTS.gatewayLog}.${tag}` : OPTS.gatewayLog);
    gw.stdout.pipe(log);
    gw.stderr.pipe(log);
  }
  const driver = new Driver();

  const { Queue } = gwRequire('bullmq');
  /** What the events case needs to start workers on this stack and count what they stored. */
  const stack = {
    orgId: org.id,
    databaseUrl: `${PG}/${dbPrefix}_1`,
    redisUrl,
    queuePrefix,
    workerEnv: {
      ...common,
      QUEUE_PREFIX: queuePrefix,
      DATABASE_URL: `${PG}/${dbPrefix}_1`,
      JWT_SECRET: randomBytes(32).toString('hex'),
    },
  };
  const queues = ['tg-audit', 'tg-usage'].map((name) => new Queue(name, { connection: { url: redisUrl }, prefix: queuePrefix }));
  // Events, not jobs: the gateway's job ids say how many events each carries (`b<n>-<digest>`,
  // eventBatchJob in @toolgate/contracts); a job of another shape counts as one.
  const eventsOf = (ids) => ids.reduce((n, id) => n + (Number(/^b(\d+)-/.exec(id)?.[1]) || 1), 0);
  const inList = async (key) => eventsOf(await redis.lrange(key, 0, -1));
  const inSet = async (key) => eventsOf(await redis.zrange(key, 0, -1));
  const count = async (name) => {
    const k = `${queuePrefix}:${name}`;
    const [wait, paused, prioritized, delayed] = await Promise.all([
      inList(`${k}:wait`),
      inList(`${k}:paused`),
      inSet(`${k}:prioritized`),
      inSet(`${k}:delayed`),
    ]);
    return wait + paused + prioritized + delayed;
  };
  return {
    name: 'gateway',
    tool: 'echo__echo',
    url: `${gwUrl}/mcp/${org.slug}`,
    headers: { authorization: `Bearer ${key}` },
    rootPid: gw.pid,
    upstreamPid: echo?.child.pid ?? null,
    database: `${dbPrefix}_1`,
    driver,
    /** Another agent key with the bench role (the keys case). */
    newKey,
    binding: `gateway listens on ${listeners(gw.pid, gwPort).join(', ')}, API on ${listeners(api.pid, apiPort).join(', ')}; upstream: ${echo ? echo.binding : STDIO_UPSTREAM}`,
    profileDir: OPTS.profile ? profileDir : null,
    stack,
    events: {
      /** Events accounted for = enqueued (no consumers here); the co-located target counts what is stored instead. */
      mode: 'queued',
      settleMs: 5000,
      /** One usage event per request, initialize included. */
      expectedUsage: (sessions, calls) => sessions + calls,
      counts: async () => ({ audit: await count('tg-audit'), usage: await count('tg-usage') }),
      /** Events in jobs not yet completed: waiting, prioritized, delayed and active. */
      backlog: async () => {
        const [a, u, aa, ua] = await Promise.all([
          count('tg-audit'),
          count('tg-usage'),
          inList(`${queuePrefix}:tg-audit:active`),
          inList(`${queuePrefix}:tg-usage:active`),
        ]);
        return { audit: a + aa, usage: u + ua };
      },
      drain: () => Promise.all(queues.map((q) => q.drain(true))),
      /** Consumers stop taking jobs (they stay up, idle); what the gateway sends piles up. */
      pause: () => Promise.all(queues.map((q) => q.pause())),
      resume: () => Promise.all(queues.map((q) => q.resume())),
    },
    sessionBytes: async (ids) => {
      let total = 0;
      for (const id of ids) total += (await redis.call('MEMORY', 'USAGE', `tg:session:${id}`)) ?? 0;
      return total / ids.length;
    },
    stop: async () => {
      await driver.exit();
      await Promise.all(queues.map((q) => q.close()));
      const stubborn = await stop(gw, 15_000);
      await stop(api);
      if (echo) await stop(echo.child);
      return stubborn;
    },
  };
}

/** Audit rows chained (sum of the chain heads' seq) and usage events rolled up (sum of UsageHourly.calls). */
async function storedEvents(pg) {
  const { rows } = await pg.query(
    `SELECT (SELECT coalesce(sum(seq), 0) FROM "AuditHead")::bigint AS audit,
            (SELECT coalesce(sum(calls), 0) FROM "UsageHourly")::bigint AS usage`,
  );
  return { audit: Number(rows[0].audit), usage: Number(rows[0].usage) };
}

/**
 * `gateway`, the headline: the stack with its event workers running on the same machine and
 * storing every event in Postgres while the load runs, as a one-box deployment does. Their CPU,
 * and that of our database's Postgres backends, is part of the measurement, not foreign.
 */
async function startGatewayColocated({ name = 'gateway', env = {} } = {}) {
  const t = await startGateway({ env });
  const workers = await startWorkers(t, OPTS.eventWorkers);
  const { Client } = require('pg');
  const pg = new Client({ connectionString: t.stack.databaseUrl });
  await pg.connect();
  const queued = t.events;
  const stopStack = t.stop;
  return {
    ...t,
    workerPids: workers.map((w) => w.pid),
    name,
    binding: `${t.binding}; ${workers.length} worker process(es) (apps/api/src/worker.ts) co-located, storing every event in Postgres${env.EVENT_LOG_FLUSH ? `; EVENT_LOG_FLUSH=${env.EVENT_LOG_FLUSH}` : ''}`,
    events: {
      mode: 'stored',
      // A step's events are stored when its last one is; the workers may trail the load by seconds.
      settleMs: 60_000,
      /** The roll-up counts calls (tools/call and the like), not initialize. */
      expectedUsage: (_sessions, calls) => calls,
      counts: () => storedEvents(pg),
      /** Waits (at most `timeoutMs`) until no event is waiting or in flight; ms it took, null on timeout. */
      idle: async (timeoutMs = 60_000) => {
        const since = Date.now();
        for (;;) {
          const b = await queued.backlog();
          if (b.audit === 0 && b.usage === 0) return Date.now() - since;
          if (Date.now() - since > timeoutMs) return null;
          await sleep(100);
        }
      },
      drain: async () => undefined,
    },
    stop: async () => {
      // The gateway hands its last events over on SIGTERM; the workers go after it.
      const stubborn = await stopStack();
      await pg.end().catch(() => undefined);
      for (const w of workers) await stop(w);
      return stubborn;
    },
  };
}

/** `gateway-paused`: the same stack with no consumer running (workers paused, or on other machines). */
async function startGatewayPaused() {
  const t = await startGateway();
  return {
    ...t,
    name: 'gateway-paused',
    binding: `${t.binding}; no event consumers (workers paused or elsewhere): events queue up in BullMQ, dropped after each step`,
  };
}

/** The standalone gateway's YAML: the platform case's server, role (rate limit included) and key shape. */
function standaloneConfig({ port, upstreamUrl }) {
  const YAML = require('yaml');
  return YAML.stringify({
    version: 1,
    org: 'bench',
    listen: { host: '127.0.0.1', port },
    audit: { file: 'audit.jsonl' },
    usage: { file: 'usage.json' },
    servers: {
      echo: upstreamUrl
        ? { transport: 'streamable-http', url: upstreamUrl }
        : { transport: 'stdio', command: process.execPath, args: [ECHO] },
    },
    roles: {
      'bench-agents': {
        tools: [{ effect: 'allow', match: 'echo__echo' }],
        rateLimits: OPTS.rateLimit ? [{ scope: 'key', perMinute: 1_000_000, burst: 1_000_000 }] : [],
      },
    },
    keys: { 'bench-agent': { roles: ['bench-agents'], env: 'TOOLGATE_BENCH_KEY' } },
  });
}

/**
 * `standalone`: `toolgate gateway --config <yaml>` (apps/cli), one process with no Postgres and
 * no Redis (audit to a hash-chained file, usage roll-up, rate limits in memory), fronting the same
 * echo server as the platform gateway.
 */
async function startStandalone() {
  const echo = OPTS.gatewayUpstream === 'http' ? await startEcho({ json: true }) : null;
  const dir = mkdtempSync(path.join(os.tmpdir(), `tgbench-${process.pid}-standalone-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const file = path.join(dir, 'toolgate.yaml');
  writeFileSync(file, standaloneConfig({ port, upstreamUrl: echo?.url }));
  const key = `tg_${randomBytes(24).toString('hex')}`;
  const child = start(process.execPath, [...OPTS.gatewayNodeOptions, CLI_BIN, 'gateway', '--config', file], {
    cwd: dir,
    env: childEnv({
      NODE_ENV: 'production',
      TOOLGATE_BENCH_KEY: key,
      HTTP_UPSTREAM_ALLOW: '127.0.0.1/32',
      STDIO_SANDBOX_PATHS: SANDBOX_PATHS,
      ...OPTS.gatewayEnv,
    }),
  });
  const [, url] = await firstLine(child, /MCP endpoint (\S+)/, 60_000);
  child.stdout.resume();
  const driver = new Driver();
  return {
    name: 'standalone',
    tool: 'echo__echo',
    url,
    headers: { authorization: `Bearer ${key}` },
    rootPid: child.pid,
    upstreamPid: echo?.child.pid ?? null,
    driver,
    binding: `toolgate gateway --config (apps/cli) listens on ${listeners(child.pid, port).join(', ')}; upstream: ${echo ? echo.binding : STDIO_UPSTREAM}`,
    stop: async () => {
      await driver.exit();
      const stubborn = await stop(child);
      if (echo) await stop(echo.child);
      return stubborn;
    },
  };
}

const STARTERS = {
  direct: () => startDirect({ json: true }),
  'direct-sse': () => startDirect({ json: false }),
  gateway: () => startGatewayColocated(),
  // The same, a call's record counted written once the kernel has it (survives a gateway crash, not a host crash).
  'gateway-os': () => startGatewayColocated({ name: 'gateway-os', env: { EVENT_LOG_FLUSH: 'os' } }),
  'gateway-paused': startGatewayPaused,
  standalone: startStandalone,
  'bare-proxy': startBareProxy,
  'mcp-proxy': startMcpProxy,
  supergateway: startSupergateway,
};

// ---- one target --------------------------------------------------------------------------------

const mem = (t) => treeMemory(t.rootPid);
/** Time spent waiting for a quiet machine and repeating disturbed rounds, against OPTS.patience. */
let waited = 0;
const patienceLeft = () => Math.max(0, OPTS.patience * 1000 - waited);
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/**
 * Wait (at most `maxMs`) until the machine is quiet: less than `threshold` of its CPU busy over
 * half a second while our target idles. Other work on a 2-core box (a test suite, a build)
 * would otherwise be measured as the target's slowness. Returns the busy share last seen.
 */
async function quiet(threshold = 0.15, maxMs = 30_000) {
  const started = Date.now();
  const until = started + Math.min(maxMs, patienceLeft());
  let warned = false;
  for (;;) {
    const a = systemCpuMs();
    await sleep(500);
    const b = systemCpuMs();
    const share = (b.busy - a.busy) / (b.total - a.total);
    if (share < threshold || Date.now() > until) {
      if (warned) log(share < threshold ? 'machine quiet again' : `still ${Math.round(share * 100)}% busy: measuring anyway`);
      waited += Date.now() - started;
      return share;
    }
    if (!warned) log(`machine ${Math.round(share * 100)}% busy with other work: waiting for it to settle`);
    warned = true;
  }
}

const wholeTreeCpuMs = (pid) => {
  const c = treeCpuMs(pid);
  return c.root + c.children;
};

/**
 * CPU used so far (ms) by the target's tree, its upstream process (an HTTP echo server of its
 * own), its co-located event workers, Redis, its database's Postgres backends, the load generator
 * and the whole machine. Everything but the machine is part of the measurement.
 */
function cpuSnapshot(t) {
  return {
    server: treeCpuMs(t.rootPid),
    upstream: t.upstreamPid ? wholeTreeCpuMs(t.upstreamPid) : 0,
    workers: (t.workerPids ?? []).reduce((a, pid) => a + wholeTreeCpuMs(pid), 0),
    postgres: t.database ? postgresPids(t.database).reduce((a, pid) => a + processCpuMs(pid), 0) : 0,
    driver: processCpuMs(t.driver.child.pid),
    redis: pidsByName('redis-server').reduce((a, pid) => a + processCpuMs(pid), 0),
    system: systemCpuMs(),
  };
}

/** Where the CPU went during a round: ms per process group, and the share nobody here used. */
function cpuDelta(a, b) {
  const d = {
    serverRoot: b.server.root - a.server.root,
    serverChildren: b.server.children - a.server.children,
    upstream: b.upstream - a.upstream,
    // A process that exits between the snapshots (a Postgres backend, another run's redis-server)
    // takes its CPU time with it: never below 0.
    redis: Math.max(0, b.redis - a.redis),
    workers: b.workers - a.workers,
    postgres: Math.max(0, b.postgres - a.postgres),
    driver: b.driver - a.driver,
  };
  const busy = b.system.busy - a.system.busy;
  const ours = Object.values(d).reduce((x, v) => x + v, 0);
  return { ...d, other: Math.max(0, busy - ours), busy, capacity: b.system.total - a.system.total };
}

async function openWithRetry(t, n, extra = {}) {
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      return await t.driver.send({
        cmd: 'open',
        url: t.url,
        headers: t.headers,
        n,
        tool: t.tool ?? TOOL[t.name],
        protocolVersion: PROTOCOL,
        ...extra,
      });
    } catch (e) {
      // The gateway learns about a new org's snapshot through Redis; give it a moment.
      if (Date.now() > until) throw e;
      await sleep(300);
    }
  }
}

async function settleEvents(t, expectedAudit, expectedUsage, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  let c = await t.events.counts();
  while ((c.audit < expectedAudit || c.usage < expectedUsage) && Date.now() < until) {
    await sleep(50);
    c = await t.events.counts();
  }
  return { counts: c, settledMs: timeoutMs - Math.max(0, until - Date.now()) };
}

const CPU_PARTS = ['serverRoot', 'serverChildren', 'upstream', 'redis', 'workers', 'postgres', 'driver', 'other'];

async function benchTarget(name) {
  log(`${name}: starting`);
  const t = await STARTERS[name]();
  const result = { target: name, binding: t.binding, steps: [], idle: null };
  log(`${name}: ${t.binding}`);
  try {
    // Warm-up: starts lazy parts (stdio child, JIT, pools), then closes its session.
    await openWithRetry(t, 1);
    await t.driver.send({ cmd: 'run', ms: 1000, record: false });
    await t.driver.send({ cmd: 'close' });
    await sleep(500);

    // Idle sessions on a process that has served almost nothing yet.
    const m0 = mem(t);
    const u0 = t.upstreamPid ? treeMemory(t.upstreamPid) : null;
    const opened = await openWithRetry(t, OPTS.memorySessions, { returnIds: true });
    await sleep(1500);
    const m1 = mem(t);
    const u1 = t.upstreamPid ? treeMemory(t.upstreamPid) : null;
    result.idle = {
      sessions: OPTS.memorySessions,
      openMs: opened.ms,
      before: m0,
      after: m1,
      rssPerSession: (m1.rss - m0.rss) / OPTS.memorySessions,
      pssPerSession: (m1.pss - m0.pss) / OPTS.memorySessions,
      redisBytesPerSession: t.sessionBytes ? await t.sessionBytes(opened.ids) : null,
      // The HTTP upstream holds a session of its own per gateway session (opened on the first call, if at all).
      upstreamRssPerSession: u0 ? (u1.rss - u0.rss) / OPTS.memorySessions : null,
    };
    await t.driver.send({ cmd: 'close' });
    await sleep(500);

    for (const n of OPTS.concurrency) {
      // Co-located workers first store what came before (warm-up, idle sessions), off the clock.
      const backlogDrainMs = t.events?.idle ? await t.events.idle() : undefined;
      const step = { sessions: n, rounds: [], idleMachineBusy: Math.round(100 * (await quiet())), backlogDrainMs };
      const ev0 = t.events ? await t.events.counts() : null;
      const before = mem(t);
      const o = await openWithRetry(t, n);
      await sleep(1000);
      const after = mem(t);
      step.memory = {
        before,
        after,
        rssPerSession: (after.rss - before.rss) / n,
        pssPerSession: (after.pss - before.pss) / n,
        openMs: o.ms,
      };
      const warm = await t.driver.send({ cmd: 'run', ms: OPTS.warmup * 1000, record: false });
      let calls = warm.calls + warm.errors;
      step.discardedRounds = [];
      for (let r = 0; r < OPTS.rounds; r++) {
        const a = t.events ? await t.events.counts() : null;
        const c0 = cpuSnapshot(t);
        const round = await t.driver.send({ cmd: 'run', ms: OPTS.seconds * 1000, record: true });
        round.cpu = cpuDelta(c0, cpuSnapshot(t));
        round.foreignCpu = Math.round((100 * round.cpu.other) / round.cpu.capacity);
        if (t.events) {
          const b = await t.events.counts();
          round.auditEnqueued = b.audit - a.audit;
          round.auditPerSec = Math.round((round.auditEnqueued / round.elapsedMs) * 1000 * 10) / 10;
        }
        calls += round.calls + round.errors;
        log(
          `${name} ×${n} round ${r + 1}: ${round.callsPerSec} calls/s, p50 ${round.p50} ms, p99 ${round.p99} ms${round.errors ? `, ${round.errors} errors (${round.firstError})` : ''}${t.events ? `, ${round.auditPerSec} audit events/s` : ''}, foreign CPU ${round.foreignCpu}%`,
        );
        // A round that shared the machine with other work is run again (twice per step at most).
        if (round.foreignCpu > OPTS.maxForeignCpu && step.discardedRounds.length < 2 && patienceLeft() > 0) {
          waited += round.elapsedMs;
          log(`${name} ×${n} round ${r + 1}: discarded (other processes used ${round.foreignCpu}% of the CPU); again`);
          step.discardedRounds.push(round);
          await t.driver.send({ cmd: 'discard' });
          r--;
          await quiet();
          continue;
        }
        step.rounds.push(round);
      }
      // Headline numbers are medians over rounds (one round disturbed by something else on the
      // machine does not move them); the latency percentiles of all rounds pooled are kept too.
      step.pooledLatency = await t.driver.send({ cmd: 'summary' });
      const cps = step.rounds.map((r) => r.callsPerSec);
      step.callsPerSec = median(cps);
      step.callsPerSecMin = Math.min(...cps);
      step.callsPerSecMax = Math.max(...cps);
      step.latency = { p50: median(step.rounds.map((r) => r.p50)), p99: median(step.rounds.map((r) => r.p99)) };
      step.errors = step.rounds.reduce((x, r) => x + r.errors, 0);
      // CPU per successful call over all rounds (µs), and the machine's load.
      const total = (k) => step.rounds.reduce((x, r) => x + r.cpu[k], 0);
      const measured = step.rounds.reduce((x, r) => x + r.calls, 0);
      const perCall = (k) => Math.round((total(k) * 1000) / Math.max(1, measured));
      step.cpuPerCallUs = Object.fromEntries(CPU_PARTS.map((k) => [k, perCall(k)]));
      // What serving a call costs the machine, the load generator left out.
      step.cpuPerCallUs.serving = CPU_PARTS.filter((k) => k !== 'driver' && k !== 'other').reduce((x, k) => x + step.cpuPerCallUs[k], 0);
      step.machineBusy = Math.round((100 * total('busy')) / total('capacity'));
      step.foreignCpu = Math.round((100 * total('other')) / total('capacity'));
      await t.driver.send({ cmd: 'close' });
      if (t.events) {
        // Every request of the step is one audit event: n initializes + warm-up + measured calls.
        const expectedUsage = t.events.expectedUsage(n, calls);
        const { counts, settledMs } = await settleEvents(t, ev0.audit + n + calls, ev0.usage + expectedUsage, t.events.settleMs);
        step.events = {
          mode: t.events.mode,
          expectedAudit: n + calls,
          expectedUsage,
          audit: counts.audit - ev0.audit,
          usage: counts.usage - ev0.usage,
          settledAfterMs: settledMs,
          perRound: step.rounds.map((r) => ({ callsPerSec: r.callsPerSec, auditPerSec: r.auditPerSec })),
        };
        await t.events.drain();
      }
      result.steps.push(step);
      await sleep(500);
    }
  } finally {
    log(`${name}: stopping`);
    result.killedAfterGrace = (await t.stop()).length;
  }
  // No process of the target may survive it (exits in progress get 3 s).
  for (let i = 0; liveTree(t.rootPid).length > 0 && i < 30; i++) await sleep(100);
  const left = liveTree(t.rootPid);
  if (left.length > 0) throw new Error(`${name}: processes ${left.join(', ')} survived`);
  // The gateway's own profiles (co-located workers write theirs into a folder beside them).
  if (t.profileDir)
    result.profiles = readdirSync(t.profileDir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(t.profileDir, f));
  return result;
}

// ---- events: gateway → tg-audit / tg-usage → worker(s) → Postgres, end to end -------------------

/** The real worker entry (apps/api/src/worker.ts, as `start:worker` runs it), `n` replicas. */
async function startWorkers(t, n) {
  const workers = Array.from({ length: n }, () =>
    start(
      process.execPath,
      [
        ...(t.profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.join(t.profileDir, 'workers')] : []),
        '-r',
        '@swc-node/register',
        'src/worker.ts',
      ],
      {
        cwd: API_DIR,
        env: childEnv({ ...t.stack.workerEnv, ...OPTS.workerEnv }),
      },
    ),
  );
  await Promise.all(workers.map((w) => firstLine(w, /Worker consuming queues/, 60_000)));
  return workers;
}

/**
 * Events end to end: the gateway under closed-loop load emits one audit and one usage event per
 * request; the worker process(es) consume them. While the load runs, the bench samples (every
 * 500 ms) what is stored in Postgres (audit: the chain heads' seq; usage: the roll-ups' calls) and
 * the queues' backlog (events in waiting + active + delayed jobs). After the load, it waits for every event
 * to be stored and reports how long that took.
 */
async function benchEvents() {
  const n = OPTS.eventSessions;
  log(`events: starting the gateway stack and ${OPTS.eventWorkers} worker process(es)`);
  const t = await startGateway();
  const result = { target: 'events', binding: t.binding, workers: OPTS.eventWorkers, sessions: n, seconds: OPTS.eventSeconds };
  const { Client } = require('pg');
  const pg = new Client({ connectionString: t.stack.databaseUrl });
  await pg.connect();
  let workers = [];
  const stored = () => storedEvents(pg);
  const sample = async (since) => {
    const [st, b] = await Promise.all([stored(), t.events.backlog()]);
    return { ms: Math.round(performance.now() - since), audit: st.audit, usage: st.usage, backlogAudit: b.audit, backlogUsage: b.usage };
  };
  /**
   * Until every event sent so far is stored and nothing is queued: ms it took (null on timeout),
   * the last sample, and per queue when it got there ({ ms, stored } or null).
   */
  const drained = async (expected, timeoutMs, pollMs = 100) => {
    const since = performance.now();
    const doneAt = { audit: null, usage: null };
    for (;;) {
      const x = await sample(since);
      if (doneAt.audit === null && x.audit >= expected.audit && x.backlogAudit === 0) doneAt.audit = { ms: x.ms, stored: x.audit };
      if (doneAt.usage === null && x.usage >= expected.usage && x.backlogUsage === 0) doneAt.usage = { ms: x.ms, stored: x.usage };
      if (doneAt.audit && doneAt.usage) return { ms: x.ms, last: x, doneAt };
      if (x.ms > timeoutMs) return { ms: null, last: x, doneAt };
      await sleep(pollMs);
    }
  };
  try {
    workers = await startWorkers(t, OPTS.eventWorkers);
    result.binding += `; ${OPTS.eventWorkers} worker process(es) (apps/api/src/worker.ts)`;
    // Warm-up (lazy parts of the gateway and the workers), then wait until its events are stored.
    await openWithRetry(t, n);
    await t.driver.send({ cmd: 'run', ms: Math.max(1, OPTS.warmup) * 1000, record: false });
    const warmDrain = await drained({ audit: 0, usage: 0 }, 60_000);
    if (warmDrain.ms === null) throw new Error('events: the warm-up events were not stored within 60 s');
    result.idleMachineBusy = Math.round(100 * (await quiet()));

    const s0 = await stored();
    const c0 = eventsCpu(t, workers);
    const since = performance.now();
    const samples = [];
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        await sleep(500);
        if (loading) samples.push(await sample(since));
      }
    })();
    const load = await t.driver.send({ cmd: 'run', ms: OPTS.eventSeconds * 1000, record: true });
    loading = false;
    await sampler;
    const end = await sample(since);
    const cpu = eventsCpuDelta(c0, eventsCpu(t, workers));
    await t.driver.send({ cmd: 'close' });

    // Each request is one audit and one usage event (warm-up ones are already stored).
    const requests = load.calls + load.errors;
    const drain = await drained({ audit: s0.audit + requests, usage: s0.usage + requests }, 120_000);
    const seconds = load.elapsedMs / 1000;
    const auditPerSec = (end.audit - s0.audit) / seconds;
    const usagePerSec = (end.usage - s0.usage) / seconds;
    // Backlog growth over the second half of the load (events/s; ≤ 0 = the workers hold their ground).
    const mid = samples.find((x) => x.ms >= end.ms / 2) ?? end;
    const growth = (k) => ((end[k] - mid[k]) / Math.max(0.001, end.ms - mid.ms)) * 1000;
    result.load = {
      calls: load.calls,
      errors: load.errors,
      callsPerSec: load.callsPerSec,
      p50: load.p50,
      p99: load.p99,
      elapsedMs: load.elapsedMs,
    };
    result.stored = {
      auditPerSec: Math.round(auditPerSec),
      usagePerSec: Math.round(usagePerSec),
      auditRatio: Math.round((auditPerSec / load.callsPerSec) * 100) / 100,
      usageRatio: Math.round((usagePerSec / load.callsPerSec) * 100) / 100,
    };
    result.backlog = {
      atEnd: { audit: end.backlogAudit, usage: end.backlogUsage },
      max: {
        audit: Math.max(end.backlogAudit, ...samples.map((x) => x.backlogAudit)),
        usage: Math.max(end.backlogUsage, ...samples.map((x) => x.backlogUsage)),
      },
      growthPerSecSecondHalf: { audit: Math.round(growth('backlogAudit')), usage: Math.round(growth('backlogUsage')) },
    };
    result.drain = {
      ms: drain.ms,
      expected: { audit: s0.audit + requests, usage: s0.usage + requests },
      found: { audit: drain.last.audit, usage: drain.last.usage },
    };
    result.cpu = cpu;
    result.samples = samples;
    const colocated =
      drain.ms !== null && drain.ms <= OPTS.eventDrainLimit * 1000 && result.stored.auditRatio >= 0.95 && result.stored.usageRatio >= 0.95;

    // Capacity. Above, the workers share 2 cores with the gateway, which then runs below its peak.
    // Here each gets the machine in turn: the gateway alone at its peak (consumers paused, idle),
    // then the workers alone storing what it produced. Keeping up = storing at least as fast as
    // the gateway at its peak produces.
    await t.events.pause();
    await openWithRetry(t, n);
    const peak = await t.driver.send({ cmd: 'run', ms: OPTS.eventSeconds * 1000, record: true });
    await t.driver.send({ cmd: 'close' });
    const produced = peak.calls + peak.errors;
    const queued = await (async () => {
      const since = performance.now();
      for (;;) {
        const b = await t.events.backlog();
        if ((b.audit >= produced && b.usage >= produced) || performance.now() - since > 15_000) return b;
        await sleep(100);
      }
    })();
    const s1 = await stored();
    await t.events.resume();
    // Per queue: the two consumers run side by side and finish at different times.
    const capDrain = await drained({ audit: s1.audit + produced, usage: s1.usage + produced }, 180_000, 50);
    const { doneAt } = capDrain;
    const rate = (k) => (doneAt[k] ? (doneAt[k].stored - s1[k]) / Math.max(0.001, doneAt[k].ms / 1000) : 0);
    result.capacity = {
      peakCallsPerSec: peak.callsPerSec,
      produced,
      queued,
      drainMs: capDrain.ms,
      auditDrainMs: doneAt.audit?.ms ?? null,
      usageDrainMs: doneAt.usage?.ms ?? null,
      auditPerSec: Math.round(rate('audit')),
      usagePerSec: Math.round(rate('usage')),
      auditRatio: Math.round((rate('audit') / peak.callsPerSec) * 100) / 100,
      usageRatio: Math.round((rate('usage') / peak.callsPerSec) * 100) / 100,
    };
    result.capacity.keptUp = capDrain.ms !== null && result.capacity.auditRatio >= 1 && result.capacity.usageRatio >= 1;
    result.colocatedKeptUp = colocated;
    result.keptUp = colocated && result.capacity.keptUp;
    log(
      `events capacity: gateway alone ${peak.callsPerSec} calls/s (${produced} requests); workers alone stored them at ${result.capacity.auditPerSec} audit/s (${result.capacity.auditRatio}×), ${result.capacity.usagePerSec} usage/s (${result.capacity.usageRatio}×)`,
    );
    log(
      `events: ${load.callsPerSec} calls/s; stored ${result.stored.auditPerSec} audit/s (${result.stored.auditRatio}×), ${result.stored.usagePerSec} usage/s (${result.stored.usageRatio}×); backlog at end ${end.backlogAudit}/${end.backlogUsage}; drained in ${drain.ms === null ? 'NOT within 120 s' : `${drain.ms} ms`}; foreign CPU ${cpu.foreign}%`,
    );
  } finally {
    log('events: stopping');
    await pg.end().catch(() => undefined);
    for (const w of workers) await stop(w);
    result.killedAfterGrace = (await t.stop()).length;
  }
  for (const w of workers) if (liveTree(w.pid).length > 0) throw new Error(`events: worker ${w.pid} survived`);
  return result;
}

/** CPU (ms) of the gateway tree, the workers, Redis, Postgres, the load generator and the machine. */
function eventsCpu(t, workers) {
  return {
    gateway: treeCpuMs(t.rootPid),
    workers: workers.reduce((a, w) => a + treeCpuMs(w.pid).root + treeCpuMs(w.pid).children, 0),
    redis: pidsByName('redis-server').reduce((a, pid) => a + processCpuMs(pid), 0),
    postgres: pidsByName('postgres').reduce((a, pid) => a + processCpuMs(pid), 0),
    driver: processCpuMs(t.driver.child.pid),
    system: systemCpuMs(),
  };
}

/** Shares of the machine (%) during the load; `foreign` is what none of the measured processes used. */
function eventsCpuDelta(a, b) {
  const capacity = b.system.total - a.system.total;
  const pct = (ms) => Math.round((100 * ms) / capacity);
  const gateway = b.gateway.root + b.gateway.children - a.gateway.root - a.gateway.children;
  const workers = b.workers - a.workers;
  const redis = b.redis - a.redis;
  const postgres = b.postgres - a.postgres;
  const driver = b.driver - a.driver;
  const busy = b.system.busy - a.system.busy;
  return {
    gateway: pct(gateway),
    workers: pct(workers),
    redis: pct(redis),
    postgres: pct(postgres),
    driver: pct(driver),
    busy: pct(busy),
    foreign: pct(Math.max(0, busy - gateway - workers - redis - postgres - driver)),
  };
}

// ---- report ------------------------------------------------------------------------------------

const MB = 1024 * 1024;
const fmt = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(d));
const kib = (b) => (b === null || b === undefined ? '—' : `${(b / 1024).toFixed(0)} KiB`);
const pad = (s, n, right = false) => (right ? String(s).padEnd(n) : String(s).padStart(n));

function report(allResults) {
  // The events and keys cases have no concurrency steps: they have sections of their own at the end.
  const results = allResults.filter((r) => r.steps);
  const events = allResults.find((r) => r.target === 'events');
  const by = Object.fromEntries(results.map((r) => [r.target, r]));
  const step = (t, n) => by[t]?.steps.find((s) => s.sessions === n);
  const ratios = computeRatios(results, OPTS.concurrency);
  const verdicts = computeVerdicts(ratios, OPTS.concurrency);
  const lines = [];
  const out = (s = '') => lines.push(s);
  out(`Toolgate bench — ${new Date().toISOString()} — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`);
  out(`closed loop, ${OPTS.rounds} rounds × ${OPTS.seconds} s per concurrency (after ${OPTS.warmup} s warm-up); loopback only`);
  out('calls/s, p50 and p99 are medians over the rounds; "foreign CPU" = share of the machine used by processes that are');
  out("not part of the measurement (the target, its children, its upstream, its co-located workers, its database's");
  out('Postgres backends, Redis and the load generator are) during the rounds');
  const discarded = results.reduce((x, r) => x + r.steps.reduce((y, st) => y + st.discardedRounds.length, 0), 0);
  out(
    `waited ${Math.round(waited / 1000)} s in all for a quiet machine / repeated rounds; ${discarded} round(s) discarded for > ${OPTS.maxForeignCpu}% foreign CPU`,
  );
  for (const r of allResults) out(`  ${pad(r.target, 15, true)} ${r.binding}`);
  for (const n of results.length > 0 ? OPTS.concurrency : []) {
    out();
    out(`── ${n} concurrent ${n === 1 ? 'session' : 'sessions'} ──────────────────────────────────────────────────────────────`);
    out(
      `${pad('target', 15, true)} ${pad('calls/s', 9)} ${pad('(min–max)', 15)} ${pad('×direct', 8)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('RSS/session', 12)} ${pad('PSS/session', 12)} ${pad('errors', 7)} ${pad('foreign CPU', 12)}`,
    );
    for (const r of results) {
      const s = step(r.target, n);
      if (!s) continue;
      const vs = r.target === 'direct' ? 1 : ratios[r.target]?.vsDirect[n];
      out(
        `${pad(r.target, 15, true)} ${pad(fmt(s.callsPerSec), 9)} ${pad(`(${fmt(s.callsPerSecMin, 0)}–${fmt(s.callsPerSecMax, 0)})`, 15)} ${pad(vs === undefined ? '—' : `${fmt(vs, 2)}×`, 8)} ${pad(fmt(s.latency.p50, 2), 8)} ${pad(fmt(s.latency.p99, 2), 8)} ${pad(kib(s.memory.rssPerSession), 12)} ${pad(kib(s.memory.pssPerSession), 12)} ${pad(s.errors, 7)} ${pad(`${s.foreignCpu}%`, 12)}`,
      );
    }
  }
  if (results.length > 0) {
    out();
    out('── CPU per call (µs, all rounds): serving = server + its children + upstream + Redis + workers + Postgres ──');
    out(
      `${pad('target', 15, true)} ${pad('sessions', 8)} ${pad('server', 7)} ${pad('children', 9)} ${pad('upstream', 9)} ${pad('Redis', 6)} ${pad('workers', 8)} ${pad('Postgres', 9)} ${pad('serving', 8)} ${pad('load gen', 9)} ${pad('other', 6)} ${pad('busy', 5)}`,
    );
    for (const r of results) {
      for (const n of OPTS.concurrency) {
        const s = step(r.target, n);
        if (!s) continue;
        const c = s.cpuPerCallUs;
        out(
          `${pad(r.target, 15, true)} ${pad(n, 8)} ${pad(c.serverRoot, 7)} ${pad(c.serverChildren, 9)} ${pad(c.upstream, 9)} ${pad(c.redis, 6)} ${pad(c.workers, 8)} ${pad(c.postgres, 9)} ${pad(c.serving, 8)} ${pad(c.driver, 9)} ${pad(c.other, 6)} ${pad(`${s.machineBusy}%`, 5)}`,
        );
      }
    }
    out();
    out(`── idle sessions (${OPTS.memorySessions} opened on a just-warmed process, memory of the serving process tree) ──`);
    out(
      `${pad('target', 15, true)} ${pad('RSS before', 11)} ${pad('RSS after', 11)} ${pad('RSS/session', 12)} ${pad('PSS/session', 12)} ${pad('procs', 6)} ${pad('Redis/session', 14)} ${pad('upstream RSS/session', 21)}`,
    );
    for (const r of results) {
      const i = r.idle;
      if (!i) continue;
      out(
        `${pad(r.target, 15, true)} ${pad(`${(i.before.rss / MB).toFixed(1)} MB`, 11)} ${pad(`${(i.after.rss / MB).toFixed(1)} MB`, 11)} ${pad(kib(i.rssPerSession), 12)} ${pad(kib(i.pssPerSession), 12)} ${pad(`${i.before.processes}→${i.after.processes}`, 6)} ${pad(i.redisBytesPerSession === null ? '—' : `${Math.round(i.redisBytesPerSession)} B`, 14)} ${pad(i.upstreamRssPerSession === null || i.upstreamRssPerSession === undefined ? '—' : kib(i.upstreamRssPerSession), 21)}`,
      );
    }
  }
  if (Object.keys(ratios).length > 0) {
    out();
    out('── ratios: throughput vs direct (JSON); gateways vs the bridges and added latency at 1 session ──');
    out(
      `${pad('target', 15, true)} ${OPTS.concurrency.map((n) => pad(`×direct@${n}`, 11)).join(' ')} ${pad('×mcp-proxy@1', 13)} ${pad('×supergw@1', 11)} ${pad('+p50@1 ms', 10)} ${pad('+p99@1 ms', 10)} ${pad('idle RSS/session', 17)}`,
    );
    for (const [target, r] of Object.entries(ratios)) {
      const x = (v) => (v === undefined ? '—' : `${fmt(v, 2)}×`);
      out(
        `${pad(target, 15, true)} ${OPTS.concurrency.map((n) => pad(x(r.vsDirect[n]), 11)).join(' ')} ${pad(x(r.vsMcpProxy1), 13)} ${pad(x(r.vsSupergateway1), 11)} ${pad(fmt(r.addedLatency1?.p50, 2), 10)} ${pad(fmt(r.addedLatency1?.p99, 2), 10)} ${pad(kib(r.idleRssPerSession), 17)}`,
      );
    }
  }
  if (verdicts.length > 0) {
    out();
    out('── targets (issue 20) ─────────────────────────────────────────────────────────────');
    for (const v of verdicts) out(`${v.pass ? 'PASS' : 'MISS'}  ${pad(v.target, 58, true)} ${v.value}`);
  }
  for (const r of results.filter((x) => x.steps.some((s) => s.events))) {
    const stored = r.steps.some((s) => s.events?.mode === 'stored');
    out();
    out(
      stored
        ? `── ${r.target}: events stored by the co-located workers (audit rows chained / usage calls rolled up) ──`
        : `── ${r.target}: events enqueued (BullMQ tg-audit / tg-usage, no consumers) ──`,
    );
    out(
      `${pad('sessions', 9, true)} ${pad('calls/s', 9)} ${pad(stored ? 'audit stored/s' : 'audit ev/s', 15)} ${pad('ratio', 6)} ${pad('audit events', 12)} ${pad('expected', 9)} ${pad('usage', 9)} ${pad('expected', 9)} ${pad(stored ? 'all stored after' : 'settled', 17)}`,
    );
    for (const s of r.steps) {
      if (!s.events) continue;
      const rate = s.events.perRound.reduce((x, p) => x + p.auditPerSec, 0) / s.events.perRound.length;
      out(
        `${pad(s.sessions, 9, true)} ${pad(fmt(s.callsPerSec), 9)} ${pad(fmt(rate), 15)} ${pad(fmt(rate / s.callsPerSec, 2), 6)} ${pad(s.events.audit, 12)} ${pad(s.events.expectedAudit, 9)} ${pad(s.events.usage, 9)} ${pad(s.events.expectedUsage, 9)} ${pad(`${s.events.settledAfterMs} ms`, 17)}`,
      );
    }
  }
  if (events?.load) {
    const e = events;
    out();
    out(
      `── events end to end with consumers (gateway → tg-audit / tg-usage → ${e.workers} worker process${e.workers === 1 ? '' : 'es'} → Postgres) ──`,
    );
    out(`${e.sessions} sessions, ${e.seconds} s of load; stored = audit rows chained / usage events rolled up, per second of load`);
    out(
      `${pad('calls/s', 9)} ${pad('audit stored/s', 15)} ${pad('ratio', 6)} ${pad('usage stored/s', 15)} ${pad('ratio', 6)} ${pad('backlog end (max)', 22)} ${pad('growth/s 2nd half', 18)} ${pad('drained after', 14)}`,
    );
    const b = e.backlog;
    out(
      `${pad(fmt(e.load.callsPerSec), 9)} ${pad(e.stored.auditPerSec, 15)} ${pad(fmt(e.stored.auditRatio, 2), 6)} ${pad(e.stored.usagePerSec, 15)} ${pad(fmt(e.stored.usageRatio, 2), 6)} ${pad(`${b.atEnd.audit}/${b.atEnd.usage} (${b.max.audit}/${b.max.usage})`, 22)} ${pad(`${b.growthPerSecSecondHalf.audit}/${b.growthPerSecSecondHalf.usage}`, 18)} ${pad(e.drain.ms === null ? '> 120 s' : `${(e.drain.ms / 1000).toFixed(1)} s`, 14)}`,
    );
    const c = e.cpu;
    out(
      `CPU share of the machine during the load: gateway ${c.gateway}%, workers ${c.workers}%, Redis ${c.redis}%, Postgres ${c.postgres}%, load generator ${c.driver}%, foreign ${c.foreign}% (busy ${c.busy}%)`,
    );
    const k = e.capacity;
    out();
    out('capacity, each alone on the machine: the gateway at its peak with consumers paused, then the workers draining it');
    out(
      `${pad('peak calls/s', 13)} ${pad('requests', 9)} ${pad('audit stored/s', 15)} ${pad('ratio', 6)} ${pad('usage stored/s', 15)} ${pad('ratio', 6)} ${pad('drained in', 11)}`,
    );
    out(
      `${pad(fmt(k.peakCallsPerSec), 13)} ${pad(k.produced, 9)} ${pad(k.auditPerSec, 15)} ${pad(fmt(k.auditRatio, 2), 6)} ${pad(k.usagePerSec, 15)} ${pad(fmt(k.usageRatio, 2), 6)} ${pad(k.drainMs === null ? '> 180 s' : `${(k.drainMs / 1000).toFixed(1)} s`, 11)}`,
    );
    verdicts.push({
      target: 'worker capacity ≥ gateway peak (each alone)',
      value: `audit ${fmt(k.auditRatio, 2)}×, usage ${fmt(k.usageRatio, 2)}×`,
      pass: k.keptUp,
    });
    out(`${verdicts.at(-1).pass ? 'PASS' : 'MISS'}  ${verdicts.at(-1).target}: ${verdicts.at(-1).value}`);
    verdicts.push({
      target: `worker keeps up (≥ 0.95× stored, drained ≤ ${OPTS.eventDrainLimit} s)`,
      value: `${fmt(Math.min(e.stored.auditRatio, e.stored.usageRatio), 2)}×, ${e.drain.ms === null ? '> 120 s' : `${(e.drain.ms / 1000).toFixed(1)} s`}`,
      pass: e.colocatedKeptUp,
    });
    out(`${e.colocatedKeptUp ? 'PASS' : 'MISS'}  ${verdicts.at(-1).target}: ${verdicts.at(-1).value}`);
  }
  const keys = allResults.find((r) => r.target === 'keys');
  if (keys) reportKeys(keys, out);
  return { text: lines.join('\n'), ratios, verdicts };
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  log(`options: ${JSON.stringify(OPTS)}`);
  const results = [];
  for (const name of OPTS.targets) {
    if (name === 'events') results.push(await benchEvents());
    else if (name === 'gateway-ab') {
      if (!OPTS.baseline) throw new Error('gateway-ab needs --baseline <gateway package dir of another checkout>');
      const ab = { startGateway, openWithRetry, log, current: OPTS.gatewayDir, baseline: path.resolve(OPTS.baseline) };
      results.push(await benchAB({ ...ab, concurrency: OPTS.concurrency, rounds: OPTS.rounds, seconds: OPTS.seconds }));
    } else if (name === 'keys')
      results.push(
        await benchKeys({
          // Per-key isolation of a stdio upstream is what this case measures.
          startGateway: (o) => startGateway({ ...o, upstream: 'stdio' }),
          openWithRetry,
          quiet,
          log,
          counts: OPTS.keyCounts,
          pauseMs: OPTS.keyPauseMs,
        }),
      );
    else if (!STARTERS[name]) throw new Error(`unknown target ${name}`);
    else results.push(await benchTarget(name));
    // Each target's cleanups (database, Redis keys) run before the next target starts.
    await cleanup();
    cleaning = null;
    cleanups.length = 0;
  }
  const { text, ratios, verdicts } = report(results);
  process.stdout.write(`${text}\n`);
  for (const r of results) if (r.target === 'gateway-ab') process.stdout.write(`${reportAB(r)}\n`);
  mkdirSync(path.join(BENCH, 'results'), { recursive: true });
  const file = path.join(BENCH, 'results', 'latest.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        at: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        options: OPTS,
        results,
        ratios,
        verdicts,
        wallSeconds: Math.round((performance.now() - T0) / 1000),
      },
      null,
      2,
    )}\n`,
  );
  log(`wrote ${path.relative(ROOT, file)} (${Math.round((performance.now() - T0) / 1000)} s in all)`);
  const profiles = results.flatMap((r) => r.profiles ?? []);
  if (profiles.length > 0) {
    const { execFileSync } = await import('node:child_process');
    const text = execFileSync(process.execPath, [path.join(BENCH, 'profile-report.mjs'), ...profiles], { encoding: 'utf8' });
    const reportFile = path.join(BENCH, 'results', 'profile.txt');
    writeFileSync(reportFile, text);
    log(`gateway CPU profile summary: ${path.relative(ROOT, reportFile)}`);
  }
}

main()
  .catch(async (e) => {
    log(`FAILED: ${e.stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
  });
