// Ratios and issue 20's targets from the measured steps (scripts/bench.mjs report).

/** Gateway-like targets: what the bridges and the targets are compared with. */
export const GATEWAYS = ['gateway', 'gateway-os', 'gateway-paused', 'standalone'];

const ratio = (a, b) => (a && b ? Math.round((a / b) * 100) / 100 : undefined);
const fmt = (v, d) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(d));

/**
 * @typedef {{ vsDirect: Record<number, number>, vsMcpProxy1?: number, vsSupergateway1?: number,
 *   addedLatency1?: { p50: number, p99: number }, idleRssPerSession: number | null }} TargetRatios
 */

/**
 * Each target against `direct` (JSON) at every concurrency; the gateways also against mcp-proxy
 * and supergateway at 1 session; added latency at 1 session; RSS per idle session.
 * @param {Array<{ target: string, steps: any[], idle: any }>} results  targets with concurrency steps
 * @param {number[]} concurrency
 * @returns {Record<string, TargetRatios>}
 */
export function computeRatios(results, concurrency) {
  const by = Object.fromEntries(results.map((r) => [r.target, r]));
  const step = (t, n) => by[t]?.steps.find((s) => s.sessions === n);
  /** @type {Record<string, TargetRatios>} */
  const ratios = {};
  for (const r of results) {
    if (r.target === 'direct') continue;
    /** @type {TargetRatios} */
    const row = { vsDirect: {}, idleRssPerSession: null };
    for (const n of concurrency) {
      const v = ratio(step(r.target, n)?.callsPerSec, step('direct', n)?.callsPerSec);
      if (v !== undefined) row.vsDirect[n] = v;
    }
    const s1 = step(r.target, 1);
    const d1 = step('direct', 1);
    if (GATEWAYS.includes(r.target) && s1) {
      row.vsMcpProxy1 = ratio(s1.callsPerSec, step('mcp-proxy', 1)?.callsPerSec);
      row.vsSupergateway1 = ratio(s1.callsPerSec, step('supergateway', 1)?.callsPerSec);
    }
    if (s1 && d1) row.addedLatency1 = { p50: s1.latency.p50 - d1.latency.p50, p99: s1.latency.p99 - d1.latency.p99 };
    row.idleRssPerSession = r.idle?.rssPerSession ?? null;
    ratios[r.target] = row;
  }
  return ratios;
}

/**
 * Issue 20's targets, for each gateway measured.
 * @param {Record<string, TargetRatios>} ratios
 * @param {number[]} concurrency
 * @returns {Array<{ target: string, value: string, pass: boolean }>}
 */
export function computeVerdicts(ratios, concurrency) {
  const verdicts = [];
  for (const g of GATEWAYS) {
    const r = ratios[g];
    if (!r) continue;
    const verdict = (what, value, pass) => verdicts.push({ target: `${g}: ${what}`, value, pass });
    for (const n of concurrency.filter((c) => c === 10 || c === 32))
      if (r.vsDirect[n] !== undefined) verdict(`≥ 0.8× direct at ${n} sessions`, `${fmt(r.vsDirect[n], 2)}×`, r.vsDirect[n] >= 0.8);
    if (r.vsMcpProxy1 !== undefined) verdict('≥ 1.0× mcp-proxy at 1 session', `${fmt(r.vsMcpProxy1, 2)}×`, r.vsMcpProxy1 >= 1);
    if (r.vsSupergateway1 !== undefined)
      verdict('≥ 1.0× supergateway at 1 session', `${fmt(r.vsSupergateway1, 2)}×`, r.vsSupergateway1 >= 1);
    if (r.addedLatency1) {
      verdict('added p50 at 1 session ≤ 0.3 ms', `${fmt(r.addedLatency1.p50, 2)} ms`, r.addedLatency1.p50 <= 0.3);
      verdict('added p99 at 1 session ≤ 1.5 ms', `${fmt(r.addedLatency1.p99, 2)} ms`, r.addedLatency1.p99 <= 1.5);
    }
    // Decimal kilobytes, as the target is written.
    if (r.idleRssPerSession !== null)
      verdict('≤ 50 KB per idle session (RSS)', `${(r.idleRssPerSession / 1000).toFixed(1)} KB`, r.idleRssPerSession <= 50 * 1000);
  }
  return verdicts;
}
