import { edgeRateLimits, rateLimitsFor } from './rate-limits';
import { principalWith, snapshotWith } from './test-fixtures';

describe('rateLimitsFor', () => {
  const snapshot = snapshotWith([
    {
      name: 'basic',
      rules: {
        rateLimits: [
          { scope: 'key', perMinute: 600 },
          { scope: 'tool', perMinute: 10, burst: 20, match: 'github__create_*' },
          { scope: 'tool', perMinute: 60 },
        ],
      },
    },
    {
      name: 'strict',
      rules: {
        rateLimits: [
          { scope: 'key', perMinute: 120, burst: 1000 },
          { scope: 'tool', perMinute: 5, match: '*__create_issue' },
        ],
      },
    },
    { name: 'none', rules: {} },
  ]);

  it('returns key and matching tool buckets with burst defaulting to perMinute', () => {
    expect(rateLimitsFor(snapshot, principalWith(['basic'], { keyId: 'k1' }), 'github', 'create_issue')).toEqual([
      { bucket: 'key:k1', perMinute: 600, burst: 600 },
      { bucket: 'tool:k1:github__create_issue', perMinute: 10, burst: 20 },
    ]);
  });

  it('skips tool rules whose glob does not match (match defaults to *)', () => {
    expect(rateLimitsFor(snapshot, principalWith(['basic'], { keyId: 'k1' }), 'github', 'list_issues')).toEqual([
      { bucket: 'key:k1', perMinute: 600, burst: 600 },
      { bucket: 'tool:k1:github__list_issues', perMinute: 60, burst: 60 },
    ]);
  });

  it('keeps the strictest perMinute and burst when roles share a bucket', () => {
    const limits = rateLimitsFor(snapshot, principalWith(['basic', 'strict'], { keyId: 'k1' }), 'github', 'create_issue');
    expect(limits).toEqual([
      { bucket: 'key:k1', perMinute: 120, burst: 600 },
      { bucket: 'tool:k1:github__create_issue', perMinute: 5, burst: 5 },
    ]);
    // Order of roles does not change the limits, only the order of first appearance.
    const reversed = rateLimitsFor(snapshot, principalWith(['strict', 'basic'], { keyId: 'k1' }), 'github', 'create_issue');
    expect(new Set(reversed.map((l) => JSON.stringify(l)))).toEqual(new Set(limits.map((l) => JSON.stringify(l))));
  });

  it('only applies key-scope limits to non-tool calls', () => {
    expect(rateLimitsFor(snapshot, principalWith(['basic'], { keyId: 'k1' }), 'github', null)).toEqual([
      { bucket: 'key:k1', perMinute: 600, burst: 600 },
    ]);
  });

  it('returns nothing for roles without limits, unknown roles or no roles', () => {
    expect(rateLimitsFor(snapshot, principalWith(['none']), 'github', 'x')).toEqual([]);
    expect(rateLimitsFor(snapshot, { keyId: 'k', roleIds: ['r_missing'], metadata: {} }, 'github', 'x')).toEqual([]);
    expect(rateLimitsFor(snapshot, principalWith([]), 'github', 'x')).toEqual([]);
  });

  it('returns fresh objects each call (callers may keep or mutate them)', () => {
    const p = principalWith(['basic'], { keyId: 'k1' });
    const first = rateLimitsFor(snapshot, p, 'github', 'x');
    (first[0] as { perMinute: number }).perMinute = 1;
    expect(rateLimitsFor(snapshot, p, 'github', 'x')[0]?.perMinute).toBe(600);
  });
});

describe('edgeRateLimits', () => {
  const off = { orgPerMinute: 0, orgBurst: 0, ipPerMinute: 0, ipBurst: 0 };

  it('is empty when the operator set no limits', () => {
    expect(edgeRateLimits(off, '10.0.0.1')).toEqual([]);
  });

  it('charges the org bucket and a bucket per client address shared by every org', () => {
    expect(edgeRateLimits({ orgPerMinute: 600, orgBurst: 0, ipPerMinute: 60, ipBurst: 10 }, '10.0.0.1')).toEqual([
      { bucket: 'org', perMinute: 600, burst: 600 },
      { bucket: 'ip:10.0.0.1', perMinute: 60, burst: 10, shared: true },
    ]);
  });

  it('skips the address bucket when the address is unknown', () => {
    expect(edgeRateLimits({ ...off, ipPerMinute: 60 }, null)).toEqual([]);
  });
});
