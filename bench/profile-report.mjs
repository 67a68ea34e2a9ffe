#!/usr/bin/env node
// Summarise a V8 .cpuprofile (as written by `node --cpu-prof`, e.g. by `pnpm bench --profile`):
// self time per function and per module, and inclusive time of the gateway's own functions.
//
//   node bench/profile-report.mjs bench/results/profiles/CPU.*.cpuprofile [--top 30] [--all]
//
// Start-up (module loading, swc compilation) is left out: samples count from the first one whose
// stack passes through the gateway's HTTP transport (the first agent request) or, in an event
// worker, through its batch consumer (the first batch), unless --all.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const TOP = topAt === -1 ? 30 : Number(args[topAt + 1]);
const ALL = args.includes('--all');
const files = args.filter((a, i) => !a.startsWith('--') && (topAt === -1 || i !== topAt + 1));
if (files.length === 0) {
  console.error('usage: profile-report.mjs <file.cpuprofile> [--top N]');
  process.exit(2);
}

/** Where a function lives: our source (apps/…, packages/…), a dependency (its package), or node itself. */
function moduleOf(url) {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const m = /\/work\/main\/(.*)$/.exec(url.replace(/^file:\/\//, ''));
  return m ? m[1] : url;
}

for (const file of files) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // The first sample serving an agent request or storing a batch: everything before it is start-up.
  let first = 0;
  if (!ALL) {
    first = prof.samples.findIndex((id) => {
      for (let x = id; x !== undefined; x = parent.get(x))
        if (/\/http\/(streamable|legacy-sse)\.ts$|\/events\/batched-queue-consumer\.ts$/.test(nodes.get(x).callFrame.url ?? ''))
          return true;
      return false;
    });
    if (first < 0) first = 0;
  }
  // Self time per node from the samples and their time deltas (µs).
  const self = new Map();
  let total = 0;
  for (let i = first; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const label = (n) => {
    const f = n.callFrame;
    const name = f.functionName || '(anonymous)';
    return f.url ? `${name}  ${moduleOf(f.url)}:${f.lineNumber + 1}` : name;
  };
  const byFn = new Map();
  const byModule = new Map();
  let idle = 0;
  for (const [id, us] of self) {
    const n = nodes.get(id);
    const fn = n.callFrame.functionName;
    if (fn === '(idle)') {
      idle += us;
      continue;
    }
    const l = label(n);
    byFn.set(l, (byFn.get(l) ?? 0) + us);
    const mod = fn === '(garbage collector)' ? '(garbage collector)' : fn === '(program)' ? '(program)' : moduleOf(n.callFrame.url);
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
  }
  // Inclusive time of our own functions (apps/gateway, packages/*): counted once per sample.
  const incl = new Map();
  for (let i = first; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    const seen = new Set();
    for (let id = prof.samples[i]; id !== undefined; id = parent.get(id)) {
      const n = nodes.get(id);
      const url = n.callFrame.url ?? '';
      if (!/\/work\/main\/(apps|packages)\//.test(url) || url.includes('node_modules')) continue;
      const l = label(n);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + dt);
    }
  }
  const busy = total - idle;
  const pct = (us, of) => `${((100 * us) / of).toFixed(1).padStart(5)}%`;
  const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  console.log(
    `\n${path.basename(file)}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (${pct(busy, total).trim()} of wall time)`,
  );
  console.log('\nSelf time by module (% of busy time):');
  for (const [m, us] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(us, busy)} ${ms(us)}  ${m}`);
  console.log(`\nTop ${TOP} functions by self time (% of busy time):`);
  for (const [l, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(us, busy)} ${ms(us)}  ${l}`);
  console.log(`\nToolgate functions by inclusive time (% of busy time):`);
  for (const [l, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${pct(us, busy)} ${ms(us)}  ${l}`);

  // Long tasks: runs of consecutive busy samples. A request that arrives during one waits for
  // it, so these are what the latency tail is made of. Each sample is put in one category by
  // the first matching frame from the leaf up.
  const category = (id) => {
    const leafFn = nodes.get(id).callFrame.functionName;
    if (leafFn === '(garbage collector)') return 'GC';
    if (leafFn === '(program)') return '(program)';
    let urls = '';
    for (let x = id; x !== undefined; x = parent.get(x)) urls += `${nodes.get(x).callFrame.url ?? ''}\n`;
    if (/events\/emitter\.ts|node_modules\/(bullmq|msgpackr)\//.test(urls)) return 'events → BullMQ';
    if (urls.includes('redis/rate-limiter.ts') || urls.includes('core/ratelimit.ts')) return 'rate limit (Redis EVALSHA)';
    if (urls.includes('redis/sessions.ts')) return 'session store (Redis)';
    if (urls.includes('backends/')) return 'backend (stdio child I/O)';
    if (urls.includes('node_modules/ioredis') || urls.includes('redis-parser')) return 'ioredis replies';
    if (urls.includes('http/util.ts')) return 'HTTP response / body';
    if (/apps\/gateway\/src\/(http|core)|packages\//.test(urls)) return 'request handling (rest)';
    return 'node (http parser, streams, timers)';
  };
  const tasks = [];
  let cur = null;
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] ?? 0;
    if (i < first) continue;
    const id = prof.samples[i];
    const fn = nodes.get(id).callFrame.functionName;
    if (fn === '(idle)') {
      if (cur) tasks.push(cur);
      cur = null;
      continue;
    }
    cur ??= { start: t, end: t, cats: new Map() };
    const dt = prof.timeDeltas[i + 1] ?? 0;
    cur.end = t + dt;
    const c = category(id);
    cur.cats.set(c, (cur.cats.get(c) ?? 0) + dt);
  }
  if (cur) tasks.push(cur);
  const long = tasks.filter((x) => x.end - x.start >= 1000);
  const span = tasks.length ? tasks[tasks.length - 1].end - tasks[0].start : 0;
  const dist = [1, 2, 5, 10, 20].map((lo, i, a) => {
    const hi = a[i + 1] ?? Number.POSITIVE_INFINITY;
    return `${lo}${Number.isFinite(hi) ? `–${hi}` : '+'} ms: ${long.filter((x) => (x.end - x.start) / 1000 >= lo && (x.end - x.start) / 1000 < hi).length}`;
  });
  const longCats = new Map();
  let longTotal = 0;
  for (const x of long) {
    for (const [c, us] of x.cats) {
      longCats.set(c, (longCats.get(c) ?? 0) + us);
      longTotal += us;
    }
  }
  console.log(
    `\nLong tasks (≥ 1 ms of uninterrupted JS/GC on the event loop): ${long.length} in ${(span / 1e6).toFixed(1)} s (${((long.length / span) * 1e6).toFixed(1)}/s), ${(longTotal / 1000).toFixed(0)} ms in all; ${dist.join(', ')}`,
  );
  console.log('What they are made of (% of long-task time):');
  for (const [c, us] of [...longCats].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(us, longTotal || 1)} ${ms(us)}  ${c}`);
  const allCats = new Map();
  for (const x of tasks) for (const [c, us] of x.cats) allCats.set(c, (allCats.get(c) ?? 0) + us);
  console.log('All busy time by category (% of busy time):');
  for (const [c, us] of [...allCats].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(us, busy)} ${ms(us)}  ${c}`);
}
