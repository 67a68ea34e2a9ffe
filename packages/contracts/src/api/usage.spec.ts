import { UsageQuery, UsageView } from './usage';

const messages = (r: { error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('UsageQuery', () => {
  it('rounds the range to whole hours and defaults the grouping', () => {
    expect(UsageQuery.parse({ from: '2026-11-01T10:30:00Z', to: '2026-11-01T12:10:00Z' })).toEqual({
      from: new Date('2026-11-01T10:00:00Z'),
      to: new Date('2026-11-01T13:00:00Z'),
      groupBy: 'day',
      limit: 200,
    });
  });

  it('refuses an unknown grouping, a bad date, an inverted and a too long range', () => {
    expect(messages(UsageQuery.safeParse({ groupBy: 'week' }))).toEqual(['groupBy: must be one of key, server, tool, day, hour']);
    expect(messages(UsageQuery.safeParse({ from: 'yesterday' }))).toEqual([
      'from: must be a date (2026-11-01) or an ISO 8601 date-time with an offset',
    ]);
    expect(messages(UsageQuery.safeParse({ from: '2026-11-02', to: '2026-11-01' }))).toEqual(['from: must be before to']);
    expect(messages(UsageQuery.safeParse({ from: '2024-01-01', to: '2026-01-01' }))).toEqual(['to: the range may cover at most 366 days']);
  });
});

describe('UsageView', () => {
  it('ties the rows to the grouping', () => {
    const totals = { calls: 1, errors: 0, denied: 0, billable: 1, bytesIn: 1, bytesOut: 1, durationMs: 5 };
    const base = { from: 'a', to: 'b', totals, truncated: false, limit: 200 };
    expect(
      UsageView.safeParse({ ...base, groupBy: 'key', series: [{ ...totals, keyId: null, keyName: null, keyPrefix: null }] }).success,
    ).toBe(true);
    expect(UsageView.safeParse({ ...base, groupBy: 'key', series: [{ ...totals, start: 'x' }] }).success).toBe(false);
  });
});
