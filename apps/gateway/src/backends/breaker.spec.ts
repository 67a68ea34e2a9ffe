import { RpcCode } from '../core/jsonrpc';
import { CircuitBreaker, type CircuitState } from './breaker';
import { BackendError } from './types';

function clocked(options: ConstructorParameters<typeof CircuitBreaker>[1] = {}) {
  let now = 1_000_000;
  const breaker = new CircuitBreaker('http://upstream.test', { ...options, now: () => now });
  return {
    breaker,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function thrown(fn: () => unknown): BackendError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BackendError) return e;
    throw e;
  }
  throw new Error('expected a throw');
}

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures; a success in between resets the count', () => {
    const { breaker } = clocked({ failureThreshold: 3, minCalls: 1000 });
    breaker.failure(breaker.acquire());
    breaker.failure(breaker.acquire());
    breaker.success(breaker.acquire());
    breaker.failure(breaker.acquire());
    breaker.failure(breaker.acquire());
    expect(breaker.state).toBe('closed');
    breaker.failure(breaker.acquire());
    expect(breaker.state).toBe('open');
  });

  it('fails fast while open with UpstreamUnavailable and the seconds left', () => {
    const { breaker, advance } = clocked({ failureThreshold: 1, openMs: 30_000 });
    breaker.failure(breaker.acquire());
    const e = thrown(() => breaker.acquire());
    expect(e.kind).toBe('unavailable');
    expect(e.error.code).toBe(RpcCode.UpstreamUnavailable);
    expect(e.error.message).toBe('Upstream http://upstream.test is unavailable: circuit open, retry in 30s');
    expect(e.error.data).toEqual({ retryAfterSeconds: 30, circuit: 'open' });
    advance(28_500);
    expect(thrown(() => breaker.acquire()).error.message).toContain('retry in 2s');
    expect(breaker.retryInMs).toBe(1_500);
  });

  it('lets exactly one trial through when half-open; its success closes the circuit', () => {
    const { breaker, advance } = clocked({ failureThreshold: 1, openMs: 1000 });
    breaker.failure(breaker.acquire());
    advance(1000);
    expect(breaker.state).toBe('half-open');
    expect(breaker.retryInMs).toBe(0);
    const trial = breaker.acquire();
    expect(trial).toBe(true);
    expect(() => breaker.acquire()).toThrow(BackendError);
    breaker.success(trial);
    expect(breaker.state).toBe('closed');
    expect(breaker.acquire()).toBe(false);
  });

  it('reopens for another openMs when the trial fails', () => {
    const { breaker, advance } = clocked({ failureThreshold: 1, openMs: 1000 });
    breaker.failure(breaker.acquire());
    advance(1000);
    breaker.failure(breaker.acquire());
    expect(breaker.state).toBe('open');
    advance(999);
    expect(breaker.state).toBe('open');
    advance(1);
    expect(breaker.state).toBe('half-open');
  });

  it('frees the trial slot when the trial ends neutrally (the agent cancelled)', () => {
    const { breaker, advance } = clocked({ failureThreshold: 1, openMs: 10 });
    breaker.failure(breaker.acquire());
    advance(10);
    breaker.neutral(breaker.acquire());
    expect(breaker.state).toBe('half-open');
    expect(breaker.acquire()).toBe(true);
  });

  it('ignores outcomes of calls that started before the circuit opened', () => {
    const { breaker, advance } = clocked({ failureThreshold: 2, openMs: 1000 });
    const early = [breaker.acquire(), breaker.acquire(), breaker.acquire()];
    breaker.failure(early[0]);
    breaker.failure(early[1]);
    expect(breaker.state).toBe('open');
    breaker.success(early[2]); // a slow call that succeeded meanwhile does not close it
    expect(breaker.state).toBe('open');
    advance(1000);
    breaker.failure(false); // nor does a late failure reopen a half-open circuit
    expect(breaker.state).toBe('half-open');
  });

  it('opens on a failure rate over the window once it holds minCalls', () => {
    const { breaker } = clocked({ failureThreshold: 100, failureRate: 0.5, minCalls: 10, windowMs: 10_000 });
    for (let i = 0; i < 4; i++) {
      breaker.success(breaker.acquire());
      breaker.failure(breaker.acquire());
    }
    expect(breaker.state).toBe('closed'); // 8 calls: below minCalls
    breaker.success(breaker.acquire());
    breaker.failure(breaker.acquire());
    expect(breaker.state).toBe('open'); // 10 calls, 50 % failed
  });

  it('forgets failures that slid out of the window', () => {
    const { breaker, advance } = clocked({ failureThreshold: 100, failureRate: 0.5, minCalls: 4, windowMs: 1000 });
    breaker.failure(breaker.acquire());
    breaker.success(breaker.acquire());
    breaker.failure(breaker.acquire());
    advance(1500);
    breaker.success(breaker.acquire());
    breaker.success(breaker.acquire());
    breaker.success(breaker.acquire());
    breaker.failure(breaker.acquire());
    expect(breaker.state).toBe('closed'); // 1 of 4 in the window
    // Far in the future: the whole window is cleared at once.
    advance(60_000);
    breaker.failure(breaker.acquire());
    expect(breaker.state).toBe('closed');
  });

  it('tells listeners about every state change', () => {
    const { breaker, advance } = clocked({ failureThreshold: 1, openMs: 5 });
    const seen: Array<[CircuitState, CircuitState]> = [];
    const off = breaker.onStateChange((s, p) => seen.push([s, p]));
    breaker.failure(breaker.acquire());
    advance(5);
    breaker.success(breaker.acquire());
    off();
    breaker.failure(breaker.acquire());
    expect(seen).toEqual([
      ['open', 'closed'],
      ['half-open', 'open'],
      ['closed', 'half-open'],
    ]);
  });
});
