// The `keys` case of `pnpm bench`: memory per active agent key. See bench/README.md ("Memory per
// active key"). scripts/bench.mjs hands in its gateway stack and helpers.
import { liveTree, processMemory, treeMemory } from './proc.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MB = 1024 * 1024;

/**
 * The echo server is isolated per key (stdio's default): every key that calls it gets its own
 * sandboxed upstream process. For each N of `counts` (cumulative: the keys of a smaller N stay
 * among the next), N keys each open one session that calls `echo` every `pauseMs`; once every
 * key's upstream answers, memory is read in the middle of that activity and set against the
 * stack after its warm-up (its own key's upstream up and idle, no session open).
 *
 * @param {{ startGateway: () => Promise<any>, openWithRetry: (t: any, n: number, extra?: object) => Promise<any>,
 *   quiet: () => Promise<number>, log: (...a: string[]) => void, counts: number[], pauseMs: number }} ctx
 */
export async function benchKeys({ startGateway, openWithRetry, quiet, log, counts, pauseMs }) {
  log('keys: starting');
  const t = await startGateway();
  const result = { target: 'keys', binding: t.binding, pauseMs, keys: [] };
  const reading = () => ({ gateway: processMemory(t.rootPid), tree: treeMemory(t.rootPid) });
  try {
    // Warm-up with the stack's own key (JIT, pools, its upstream started), then no session open.
    await openWithRetry(t, 1);
    await t.driver.send({ cmd: 'run', ms: 1000, record: false });
    await t.driver.send({ cmd: 'close' });
    const keys = [];
    for (let i = 0; i < Math.max(...counts); i++) keys.push(await t.newKey(`bench-key-${i + 1}`));
    await quiet();
    result.before = reading();
    for (const n of counts) {
      // openWithRetry also waits for the snapshot that holds the new keys.
      await openWithRetry(t, n, { perSession: keys.slice(0, n).map((k) => ({ authorization: `Bearer ${k}` })) });
      // Ramp: every new key's first call starts its upstream (a sandbox cold start each).
      const ramp = await t.driver.send({ cmd: 'run', ms: 2000 + 100 * n, pauseMs, record: false });
      const running = t.driver.send({ cmd: 'run', ms: 3000, pauseMs, record: false });
      await sleep(1500);
      const during = reading();
      const active = await running;
      await t.driver.send({ cmd: 'close' });
      const b = result.before;
      // Also per key added since the previous count: the gateway's own RSS moves by tens of MB
      // with its garbage collections, which the difference between two busy readings mostly cancels.
      const prev = result.keys.at(-1) ?? { keys: 0, during: b };
      const added = n - prev.keys;
      const step = {
        keys: n,
        during,
        processes: during.tree.processes,
        gatewayRssPerKey: (during.gateway.rss - b.gateway.rss) / n,
        treeRssPerKey: (during.tree.rss - b.tree.rss) / n,
        treePssPerKey: (during.tree.pss - b.tree.pss) / n,
        marginal: {
          fromKeys: prev.keys,
          gatewayRssPerKey: (during.gateway.rss - prev.during.gateway.rss) / added,
          treeRssPerKey: (during.tree.rss - prev.during.tree.rss) / added,
          treePssPerKey: (during.tree.pss - prev.during.tree.pss) / added,
        },
        callsPerSec: active.callsPerSec,
        errors: ramp.errors + active.errors,
        firstError: ramp.firstError ?? active.firstError,
      };
      log(
        `keys ×${n}: ${step.processes} processes, gateway RSS ${(during.gateway.rss / MB).toFixed(1)} MB, tree RSS ${(during.tree.rss / MB).toFixed(1)} MB (PSS ${(during.tree.pss / MB).toFixed(1)} MB), ${active.callsPerSec} calls/s${step.errors ? `, ${step.errors} errors (${step.firstError})` : ''}`,
      );
      result.keys.push(step);
      await sleep(500);
    }
  } finally {
    log('keys: stopping');
    result.killedAfterGrace = (await t.stop()).length;
  }
  // No process of the stack may survive it (the upstreams included; exits in progress get 3 s).
  for (let i = 0; liveTree(t.rootPid).length > 0 && i < 30; i++) await sleep(100);
  const left = liveTree(t.rootPid);
  if (left.length > 0) throw new Error(`keys: processes ${left.join(', ')} survived`);
  return result;
}

/** The report's section for the `keys` case. */
export function reportKeys(r, out) {
  const pad = (s, n, right = false) => (right ? String(s).padEnd(n) : String(s).padStart(n));
  const mb = (b) => `${(b / MB).toFixed(1)} MB`;
  out();
  out(
    `── memory per active key (each key: one session calling echo every ${r.pauseMs} ms; per-key isolation = one sandboxed upstream per key) ──`,
  );
  const b = r.before;
  out(
    `before (after warm-up, no session): gateway RSS ${mb(b.gateway.rss)}, tree RSS ${mb(b.tree.rss)}, PSS ${mb(b.tree.pss)}, ${b.tree.processes} processes`,
  );
  out(
    `${pad('keys', 5, true)} ${pad('procs', 6)} ${pad('gateway RSS', 12)} ${pad('+/key', 10)} ${pad('total RSS', 11)} ${pad('+/key', 10)} ${pad('total PSS', 11)} ${pad('+/key', 10)} ${pad('calls/s', 8)} ${pad('errors', 7)}`,
  );
  for (const s of r.keys) {
    out(
      `${pad(s.keys, 5, true)} ${pad(s.processes, 6)} ${pad(mb(s.during.gateway.rss), 12)} ${pad(mb(s.gatewayRssPerKey), 10)} ${pad(mb(s.during.tree.rss), 11)} ${pad(mb(s.treeRssPerKey), 10)} ${pad(mb(s.during.tree.pss), 11)} ${pad(mb(s.treePssPerKey), 10)} ${pad(s.callsPerSec, 8)} ${pad(s.errors, 7)}`,
    );
  }
  out('per key added since the previous count (two busy readings: the figure to read for the gateway itself)');
  out(`${pad('keys', 9, true)} ${pad('gateway RSS/key', 16)} ${pad('total RSS/key', 14)} ${pad('total PSS/key', 14)}`);
  for (const s of r.keys) {
    const m = s.marginal;
    out(
      `${pad(`${m.fromKeys}→${s.keys}`, 9, true)} ${pad(mb(m.gatewayRssPerKey), 16)} ${pad(mb(m.treeRssPerKey), 14)} ${pad(mb(m.treePssPerKey), 14)}`,
    );
  }
}
