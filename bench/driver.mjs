#!/usr/bin/env node
// The benchmark's load generator: a closed-loop MCP client over undici, one process, driven by
// scripts/bench.mjs with one JSON command per stdin line and one JSON reply per stdout line.
//
// It runs as its own process so that (a) its CPU is accounted apart from the orchestrator and
// (b) it can live inside the network namespace of a peer that cannot be told to bind loopback
// only (supergateway): then the peer is started by this process (`spawn`), in the same
// namespace, and nothing outside the namespace can reach it.
//
// Commands ({ cmd, ... } → { ok: true, ... } or { ok: false, error }):
//   spawn  { command, args, env, port, timeoutMs }  start the target detached, wait for its port → { pid }
//   open   { url, headers, n, tool, protocolVersion, returnIds, perSession } open n MCP sessions
//          (initialize + notifications/initialized), each with its own Mcp-Session-Id, on an undici
//          Pool with n connections; `perSession` (one header object per session, e.g. each its own
//          agent key) sets n and adds to `headers` → { sessions, ms }
//   run    { ms, record, pauseMs }  every session runs one tools/call after another for `ms`
//          (waiting `pauseMs` between its calls, 0 = closed loop); each request has its own
//          JSON-RPC id and is checked (status 200, same id, a result that is not an error)
//          → { calls, errors, elapsedMs, callsPerSec, p50, p90, p99, max, firstError }
//   summary                 percentiles over every recorded call since the last summary (then reset)
//   discard                 forget the recorded calls of the last run
//   close                   DELETE every session, close the pool → { deleted }
//   exit                    kill the spawned target (whole tree), exit
// When stdin ends (the orchestrator went away) the target is killed and the process exits.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { killTree, killTreeNow } from './proc.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { Pool } = createRequire(path.join(here, '..', 'apps', 'gateway', 'package.json'))('undici');

/** Latency samples in ms, grown by doubling (no per-sample allocation). */
class Samples {
  constructor() {
    this.buf = new Float64Array(1 << 16);
    this.n = 0;
  }
  push(v) {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  stats() {
    const sorted = this.buf.slice(0, this.n).sort();
    const q = (p) =>
      sorted.length === 0 ? null : round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]);
    let sum = 0;
    for (let i = 0; i < sorted.length; i++) sum += sorted[i];
    return {
      samples: sorted.length,
      mean: sorted.length ? round(sum / sorted.length) : null,
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
      max: sorted.length ? round(sorted[sorted.length - 1]) : null,
    };
  }
}
const round = (v) => Math.round(v * 1000) / 1000;

/** The JSON-RPC message with `id` out of a JSON or SSE (`data:` lines) response body. */
function findMessage(text, contentType, id) {
  if (!contentType?.includes('text/event-stream')) return JSON.parse(text);
  for (const line of text.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    // 2025-11-25 servers open the stream with an empty "priming" event (resumability).
    if (data === '') continue;
    const msg = JSON.parse(data);
    if (msg.id === id) return msg;
  }
  return null;
}

let target = null; // { pid, child }
let conn = null; // { pool, path, headers, tool, sessions: string[] }
let nextId = 1;
let pooled = new Samples();
/** How many pooled samples there were before the last run (`discard` goes back to it). */
let pooledBeforeRun = 0;

async function waitForPort(port, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    if (target?.child.exitCode !== null) throw new Error(`target exited with ${target.child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function spawnTarget({ command, args, env, port, timeoutMs = 30_000 }) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'inherit'], detached: true });
  target = { pid: child.pid, child };
  await waitForPort(port, timeoutMs);
  return { pid: child.pid };
}

async function post(pool, p, headers, body) {
  const res = await pool.request({ path: p, method: 'POST', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

async function openSessions({
  url,
  headers = {},
  n: count,
  tool,
  protocolVersion = '2025-11-25',
  parallel = 4,
  returnIds = false,
  perSession,
}) {
  const n = perSession ? perSession.length : count;
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: Math.max(1, n), pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 });
  const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers };
  const sessions = new Array(n);
  const started = performance.now();
  let next = 0;
  const one = async (i) => {
    const id = nextId++;
    const own = perSession ? { ...base, ...perSession[i] } : base;
    const init = await post(
      pool,
      u.pathname,
      own,
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'initialize',
        params: { protocolVersion, capabilities: {}, clientInfo: { name: 'toolgate-bench', version: '1.0.0' } },
      }),
    );
    const sid = init.headers['mcp-session-id'];
    const msg = init.status === 200 ? findMessage(init.text, init.headers['content-type'], id) : null;
    if (typeof sid !== 'string' || !msg?.result) throw new Error(`initialize → ${init.status}: ${init.text.slice(0, 300)}`);
    const negotiated = msg.result.protocolVersion;
    const h = { ...own, 'mcp-session-id': sid, 'mcp-protocol-version': negotiated };
    const ack = await post(pool, u.pathname, h, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
    if (ack.status !== 202 && ack.status !== 200) throw new Error(`notifications/initialized → ${ack.status}: ${ack.text.slice(0, 300)}`);
    sessions[i] = { id: sid, headers: h };
  };
  const lanes = [];
  for (let l = 0; l < Math.min(parallel, n); l++) {
    lanes.push(
      (async () => {
        while (next < n) await one(next++);
      })(),
    );
  }
  try {
    await Promise.all(lanes);
  } catch (e) {
    await pool.destroy();
    throw e;
  }
  conn = { pool, path: u.pathname, tool, sessions };
  return { sessions: n, ms: Math.round(performance.now() - started), ...(returnIds ? { ids: sessions.map((s) => s.id) } : {}) };
}

async function run({ ms, record, pauseMs = 0 }) {
  if (!conn) throw new Error('no sessions open');
  const { pool, path: p, tool, sessions } = conn;
  const samples = new Samples();
  pooledBeforeRun = pooled.n;
  let errors = 0;
  let firstError = null;
  const started = performance.now();
  const deadline = started + ms;
  const prefix = '{"jsonrpc":"2.0","id":';
  const suffix = `,"method":"tools/call","params":{"name":${JSON.stringify(tool)},"arguments":{"message":"hello from the bench"}}}`;
  const worker = async (s) => {
    while (performance.now() < deadline) {
      const id = nextId++;
      const t0 = performance.now();
      let failure = null;
      try {
        const res = await pool.request({ path: p, method: 'POST', headers: s.headers, body: prefix + id + suffix });
        const text = await res.body.text();
        if (res.statusCode !== 200) failure = `HTTP ${res.statusCode}: ${text.slice(0, 200)}`;
        else {
          const msg = findMessage(text, res.headers['content-type'], id);
          if (!msg || msg.id !== id) failure = `response id mismatch: ${text.slice(0, 200)}`;
          else if (!msg.result || msg.result.isError) failure = `error result: ${text.slice(0, 200)}`;
        }
      } catch (e) {
        failure = `${e.code ?? ''} ${e.message}`;
      }
      const dt = performance.now() - t0;
      if (failure === null) {
        samples.push(dt);
        if (record) pooled.push(dt);
      } else {
        errors++;
        firstError ??= failure;
        // A failing target must not turn this loop into a busy spin.
        await new Promise((r) => setTimeout(r, 10));
      }
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  await Promise.all(sessions.map(worker));
  const elapsedMs = performance.now() - started;
  const st = samples.stats();
  return {
    calls: st.samples,
    errors,
    elapsedMs: Math.round(elapsedMs),
    callsPerSec: Math.round((st.samples / elapsedMs) * 1000 * 10) / 10,
    p50: st.p50,
    p90: st.p90,
    p99: st.p99,
    max: st.max,
    firstError,
  };
}

async function closeSessions() {
  if (!conn) return { deleted: 0 };
  const { pool, path: p, sessions } = conn;
  conn = null;
  let deleted = 0;
  await Promise.all(
    sessions.map(async (s) => {
      try {
        const res = await pool.request({ path: p, method: 'DELETE', headers: s.headers });
        await res.body.dump();
        if (res.statusCode < 300) deleted++;
      } catch {
        // counted as not deleted
      }
    }),
  );
  await pool.close();
  return { deleted };
}

async function shutdown(code) {
  if (conn) await conn.pool.destroy().catch(() => undefined);
  if (target) {
    const { child } = target;
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
    await killTree(target.pid);
    // Let node reap it, so no zombie is left to init.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }
  target = null;
  process.exit(code);
}
process.on('exit', () => {
  if (target) killTreeNow(target.pid);
});

const handlers = {
  spawn: spawnTarget,
  open: openSessions,
  run,
  summary: async () => {
    const st = pooled.stats();
    pooled = new Samples();
    return st;
  },
  discard: async () => {
    pooled.n = Math.min(pooled.n, pooledBeforeRun);
    return {};
  },
  close: closeSessions,
};

// Commands are served one at a time, in order.
let queue = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  queue = queue.then(async () => {
    const msg = JSON.parse(line);
    if (msg.cmd === 'exit') return shutdown(0);
    try {
      const out = await handlers[msg.cmd](msg);
      process.stdout.write(`${JSON.stringify({ ok: true, ...out })}\n`);
    } catch (e) {
      process.stdout.write(`${JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) })}\n`);
    }
  });
});
rl.on('close', () => {
  queue = queue.then(() => shutdown(0));
});
