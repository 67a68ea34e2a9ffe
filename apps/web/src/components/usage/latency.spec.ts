import { avgLatency } from './latency';

describe('avgLatency', () => {
  it('averages over forwarded calls: denied calls have no upstream time', () => {
    // 3 calls, 1 denied: the 14 ms belong to the 2 forwarded ones.
    expect(avgLatency({ billable: 2, durationMs: 14 })).toBe(7);
  });

  it('is null when nothing was forwarded', () => {
    expect(avgLatency({ billable: 0, durationMs: 0 })).toBeNull();
  });
});
