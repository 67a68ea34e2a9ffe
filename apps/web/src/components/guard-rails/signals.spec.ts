import { failingServers, quotaSignal } from './signals';

const month = (quota: number | null, used: number, percent: number | null = quota ? (used / quota) * 100 : null) => ({
  period: '2026-12',
  quota,
  used,
  percent,
  resetsAt: '2027-01-01T00:00:00.000Z',
});

describe('quotaSignal', () => {
  it('is silent without a quota or below 80%', () => {
    expect(quotaSignal(month(null, 5_000_000))).toBeNull();
    expect(quotaSignal(month(100, 79))).toBeNull();
  });

  it('warns from 80% and says "over" once the quota is used up', () => {
    expect(quotaSignal(month(100, 80))).toMatchObject({ level: 'warn', percent: 80 });
    expect(quotaSignal(month(100, 99))).toMatchObject({ level: 'warn' });
    expect(quotaSignal(month(100, 100))).toMatchObject({ level: 'over', used: 100, quota: 100 });
    expect(quotaSignal(month(10, 14))).toMatchObject({ level: 'over', percent: 140 });
  });

  it('computes the share when the API leaves it out', () => {
    expect(quotaSignal(month(5, 4, null))).toMatchObject({ level: 'warn', percent: 80 });
  });
});

describe('failingServers', () => {
  const s = (name: string, health: 'ok' | 'error' | 'unknown', enabled = true) => ({
    id: `id-${name}`,
    name,
    slug: name.toLowerCase(),
    enabled,
    health,
    lastProbeError: health === 'error' ? 'ECONNREFUSED' : null,
  });

  it('names enabled servers whose last probe failed, sorted by name', () => {
    const out = failingServers([s('Zeta', 'error'), s('Ok', 'ok'), s('Never', 'unknown'), s('Alpha', 'error'), s('Off', 'error', false)]);
    expect(out.map((x) => x.name)).toEqual(['Alpha', 'Zeta']);
    expect(out[0]).toEqual({ id: 'id-Alpha', name: 'Alpha', slug: 'alpha', lastProbeError: 'ECONNREFUSED' });
  });
});
