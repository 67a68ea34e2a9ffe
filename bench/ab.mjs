// The `gateway-ab` case: this checkout's gateway (A) against another checkout's (B, --baseline
// DIR), side by side. Each gets a whole stack of its own (scripts/bench.mjs startGateway); both
// run at once and take turns, round by round, the first one alternating. On a machine that other
// work keeps busy, two runs minutes apart compare two different machines; rounds a few seconds
// apart see about the same one, and the ratio of each pair of rounds is what is reported.

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length === 0 ? Number.NaN : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');

/**
 * @param {{ startGateway: (o: { dir: string, tag: string }) => Promise<any>, openWithRetry: Function,
 *   log: (s: string) => void, baseline: string, current: string, concurrency: number[], rounds: number, seconds: number }} o
 */
export async function benchAB({ startGateway, openWithRetry, log, baseline, current, concurrency, rounds, seconds }) {
  log(`gateway-ab: A = ${current}, B = ${baseline}`);
  const a = await startGateway({ dir: current, tag: 'a' });
  const b = await startGateway({ dir: baseline, tag: 'b' });
  const result = { target: 'gateway-ab', binding: `A ${a.binding}; B ${b.binding}`, a: current, b: baseline, abSteps: [] };
  try {
    for (const t of [a, b]) {
      await openWithRetry(t, 1);
      await t.driver.send({ cmd: 'run', ms: 1500, record: false });
      await t.driver.send({ cmd: 'close' });
    }
    for (const n of concurrency) {
      await openWithRetry(a, n);
      await openWithRetry(b, n);
      for (const t of [a, b]) await t.driver.send({ cmd: 'run', ms: 1000, record: false });
      const pairs = [];
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? [a, b] : [b, a];
        const got = new Map();
        for (const t of order) got.set(t, await t.driver.send({ cmd: 'run', ms: seconds * 1000, record: true }));
        const [ra, rb] = [got.get(a), got.get(b)];
        pairs.push({ a: pick(ra), b: pick(rb) });
        log(
          `gateway-ab ×${n} round ${r + 1}: A ${ra.callsPerSec} calls/s p50 ${ra.p50} p99 ${ra.p99} | B ${rb.callsPerSec} calls/s p50 ${rb.p50} p99 ${rb.p99}${ra.errors + rb.errors ? ` | errors A ${ra.errors} B ${rb.errors}` : ''}`,
        );
      }
      for (const t of [a, b]) await t.driver.send({ cmd: 'close' });
      const ratio = (k) => median(pairs.map((p) => p.a[k] / p.b[k]));
      result.abSteps.push({
        sessions: n,
        rounds: pairs,
        a: {
          callsPerSec: median(pairs.map((p) => p.a.callsPerSec)),
          p50: median(pairs.map((p) => p.a.p50)),
          p99: median(pairs.map((p) => p.a.p99)),
        },
        b: {
          callsPerSec: median(pairs.map((p) => p.b.callsPerSec)),
          p50: median(pairs.map((p) => p.b.p50)),
          p99: median(pairs.map((p) => p.b.p99)),
        },
        ratio: { callsPerSec: ratio('callsPerSec'), p50: ratio('p50'), p99: ratio('p99') },
        errors: { a: pairs.reduce((x, p) => x + p.a.errors, 0), b: pairs.reduce((x, p) => x + p.b.errors, 0) },
      });
    }
  } finally {
    await a.stop();
    await b.stop();
  }
  return result;
}

function pick(round) {
  return { callsPerSec: round.callsPerSec, p50: round.p50, p99: round.p99, errors: round.errors };
}

/** The printed table: medians per side and the median of the per-pair ratios A/B. */
export function reportAB(r) {
  const lines = ['', `── gateway A/B (A = ${r.a}, B = ${r.b}; median of per-round-pair ratios A/B) ──`];
  lines.push('sessions   A calls/s  B calls/s  ratio    A p50  B p50  ratio    A p99  B p99  ratio   errors A/B');
  for (const s of r.abSteps) {
    lines.push(
      `${String(s.sessions).padEnd(8)} ${fmt(s.a.callsPerSec).padStart(10)} ${fmt(s.b.callsPerSec).padStart(10)} ${fmt(s.ratio.callsPerSec, 2).padStart(6)}  ${fmt(s.a.p50, 2).padStart(7)} ${fmt(s.b.p50, 2).padStart(6)} ${fmt(s.ratio.p50, 2).padStart(6)}  ${fmt(s.a.p99, 2).padStart(7)} ${fmt(s.b.p99, 2).padStart(6)} ${fmt(s.ratio.p99, 2).padStart(6)}   ${s.errors.a}/${s.errors.b}`,
    );
  }
  return lines.join('\n');
}
