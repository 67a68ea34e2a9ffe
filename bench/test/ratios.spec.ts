import { computeRatios, computeVerdicts } from '../ratios.mjs';

const step = (sessions: number, callsPerSec: number, p50: number, p99: number) => ({ sessions, callsPerSec, latency: { p50, p99 } });
const target = (name: string, steps: ReturnType<typeof step>[], rssPerSession: number | null = null) => ({
  target: name,
  steps,
  idle: rssPerSession === null ? null : { rssPerSession },
});

const measured = [
  target('direct', [step(1, 1000, 0.5, 1.0), step(10, 2000, 4, 8), step(32, 2400, 12, 20)], 80_000),
  target('direct-sse', [step(1, 600, 0.8, 1.6), step(10, 1000, 9, 15), step(32, 1200, 25, 40)], 90_000),
  target('gateway', [step(1, 800, 0.9, 2.0), step(10, 1700, 5, 9), step(32, 1800, 16, 30)], 49_000),
  target('standalone', [step(1, 700, 0.7, 2.6), step(10, 1500, 6, 10), step(32, 2000, 15, 25)], 51_000),
  target('mcp-proxy', [step(1, 400, 2, 4), step(10, 900, 10, 20), step(32, 1000, 30, 50)], 70_000),
  target('supergateway', [step(1, 1000, 1, 3), step(10, 1100, 9, 18), step(32, 900, 35, 60)], 70_000_000),
];

describe('bench ratios', () => {
  const ratios = computeRatios(measured, [1, 10, 32]);

  it('compares every target with direct (JSON) at every concurrency, direct itself excepted', () => {
    expect(ratios.direct).toBeUndefined();
    expect(ratios['direct-sse'].vsDirect).toEqual({ 1: 0.6, 10: 0.5, 32: 0.5 });
    expect(ratios.gateway.vsDirect).toEqual({ 1: 0.8, 10: 0.85, 32: 0.75 });
  });

  it('compares only the gateways with the bridges, at 1 session', () => {
    expect(ratios.gateway.vsMcpProxy1).toBe(2);
    expect(ratios.gateway.vsSupergateway1).toBe(0.8);
    expect(ratios['direct-sse'].vsMcpProxy1).toBeUndefined();
    expect(ratios['mcp-proxy'].vsSupergateway1).toBeUndefined();
  });

  it('gives the latency added at 1 session and the memory per idle session', () => {
    expect(ratios.gateway.addedLatency1?.p50).toBeCloseTo(0.4);
    expect(ratios.gateway.addedLatency1?.p99).toBeCloseTo(1.0);
    expect(ratios.gateway.idleRssPerSession).toBe(49_000);
  });

  it('leaves out what was not measured', () => {
    const partial = computeRatios([target('gateway', [step(1, 800, 0.9, 2)])], [1]);
    expect(partial.gateway.vsDirect).toEqual({});
    expect(partial.gateway.vsMcpProxy1).toBeUndefined();
    expect(partial.gateway.addedLatency1).toBeUndefined();
    expect(computeVerdicts(partial, [1])).toEqual([]);
  });
});

describe('bench targets (issue 20)', () => {
  const verdicts = computeVerdicts(computeRatios(measured, [1, 10, 32]), [1, 10, 32]);
  const verdict = (name: string) => verdicts.find((v: { target: string }) => v.target === name);

  it('judges each gateway on each target at its threshold', () => {
    expect(verdict('gateway: ≥ 0.8× direct at 10 sessions')).toMatchObject({ value: '0.85×', pass: true });
    expect(verdict('gateway: ≥ 0.8× direct at 32 sessions')).toMatchObject({ value: '0.75×', pass: false });
    expect(verdict('gateway: ≥ 1.0× mcp-proxy at 1 session')?.pass).toBe(true);
    expect(verdict('gateway: ≥ 1.0× supergateway at 1 session')?.pass).toBe(false);
    expect(verdict('gateway: added p50 at 1 session ≤ 0.3 ms')?.pass).toBe(false);
    expect(verdict('gateway: added p99 at 1 session ≤ 1.5 ms')?.pass).toBe(true);
    expect(verdict('standalone: added p99 at 1 session ≤ 1.5 ms')?.pass).toBe(false);
  });

  it('reads the memory target in decimal kilobytes', () => {
    expect(verdict('gateway: ≤ 50 KB per idle session (RSS)')).toMatchObject({ value: '49.0 KB', pass: true });
    expect(verdict('standalone: ≤ 50 KB per idle session (RSS)')).toMatchObject({ value: '51.0 KB', pass: false });
  });

  it('judges the gateways only', () => {
    expect(verdicts.every((v: { target: string }) => /^(gateway|gateway-paused|standalone): /.test(v.target))).toBe(true);
  });
});
