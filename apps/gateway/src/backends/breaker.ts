import { RpcCode } from '../core/jsonrpc';
import { BackendError } from './types';

/**
 * A circuit breaker for one upstream (one per HTTP / SSE backend).
 *
 * closed ──(N consecutive transport failures, or a failure rate over the window)──▶ open
 * open ──(openMs elapsed)──▶ half-open: exactly one trial call goes through, the rest fail fast
 * half-open ──trial succeeds──▶ closed;  ──trial fails──▶ open again (for another openMs)
 *
 * Only failures of *reaching* the upstream count (connection refused/reset, timeouts, 5xx
 * without a JSON-RPC body, a lost stream). A JSON-RPC error the upstream answered with is a
 * success here: the upstream is up, it just said no. Outcomes that say nothing about the
 * upstream (the agent cancelled) are "neutral": they neither count nor close the circuit.
 *
 * Cost on the hot path: a few integer operations per call; no timers (open → half-open is
 * decided lazily when the next call or a metrics read looks at the state).
 */

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive transport failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** Length of the sliding window for the failure-rate rule, ms. Default 30 000. */
  windowMs?: number;
  /** Failure rate (0..1] over the window that opens the circuit. Default 0.5. */
  failureRate?: number;
  /** Calls the window must hold before the failure-rate rule applies. Default 20. */
  minCalls?: number;
  /** How long an open circuit fails fast before letting a trial call through, ms. Default 30 000. */
  openMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** Ten buckets make the window slide in steps of a tenth of its length. */
const BUCKETS = 10;

export class CircuitBreaker {
  private readonly failureThreshold: number;
  private readonly failureRate: number;
  private readonly minCalls: number;
  readonly openMs: number;
  private readonly bucketMs: number;
  private readonly now: () => number;

  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openUntil = 0;
  private trialInFlight = false;
  private readonly ok = new Uint32Array(BUCKETS);
  private readonly failed = new Uint32Array(BUCKETS);
  /** Absolute bucket number (time / bucketMs) of the newest bucket. */
  private head = 0;
  private readonly listeners = new Set<(state: CircuitState, previous: CircuitState) => void>();

  constructor(
    /** Names the upstream in error messages (e.g. the URL's origin). */
    readonly label: string,
    options: CircuitBreakerOptions = {},
  ) {
    this.failureThreshold = Math.max(1, options.failureThreshold ?? 5);
    this.failureRate = Math.min(1, Math.max(0.01, options.failureRate ?? 0.5));
    this.minCalls = Math.max(1, options.minCalls ?? 20);
    this.openMs = Math.max(1, options.openMs ?? 30_000);
    this.bucketMs = Math.max(1, Math.ceil((options.windowMs ?? 30_000) / BUCKETS));
    this.now = options.now ?? Date.now;
    this.head = Math.floor(this.now() / this.bucketMs);
  }

  /** The state for health and metrics (an open circuit whose time is up reads as half-open). */
  get state(): CircuitState {
    if (this.current === 'open' && this.now() >= this.openUntil) this.transition('half-open');
    return this.current;
  }

  /** Milliseconds until an open circuit lets a trial through (0 when not open). */
  get retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.openUntil - this.now()) : 0;
  }

  /** Observe state changes (metrics, logs). Returns an unsubscribe function. */
  onStateChange(listener: (state: CircuitState, previous: CircuitState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Ask to make a call. Throws BackendError('unavailable', UpstreamUnavailable) when the circuit
   * fails fast. Returns true when this call is the half-open trial: pass that flag back to
   * success / failure / neutral when the call ends.
   */
  acquire(): boolean {
    const state = this.state;
    if (state === 'closed') return false;
    if (state === 'half-open' && !this.trialInFlight) {
      this.trialInFlight = true;
      return true;
    }
    throw this.openError();
  }

  /** The upstream answered (with a result or with a JSON-RPC error). */
  success(trial: boolean): void {
    this.count(true);
    if (trial) {
      this.trialInFlight = false;
      this.consecutiveFailures = 0;
      this.ok.fill(0);
      this.failed.fill(0);
      this.transition('closed');
    } else if (this.current === 'closed') this.consecutiveFailures = 0;
  }

  /** The upstream could not be reached or did not answer in time. */
  failure(trial: boolean): void {
    this.count(false);
    if (trial) {
      this.trialInFlight = false;
      this.trip();
      return;
    }
    if (this.current !== 'closed') return; // calls started before the circuit opened
    this.consecutiveFailures++;
    if (this.consecutiveFailures >= this.failureThreshold || this.rateExceeded()) this.trip();
  }

  /** The call ended without telling anything about the upstream (e.g. the agent cancelled). */
  neutral(trial: boolean): void {
    if (trial) this.trialInFlight = false;
  }

  /** The error an open circuit fails fast with. */
  openError(): BackendError {
    const seconds = Math.max(1, Math.ceil(Math.max(0, this.openUntil - this.now()) / 1000));
    return new BackendError(
      {
        code: RpcCode.UpstreamUnavailable,
        message: `Upstream ${this.label} is unavailable: circuit open, retry in ${seconds}s`,
        data: { retryAfterSeconds: seconds, circuit: 'open' },
      },
      'unavailable',
    );
  }

  private trip(): void {
    this.openUntil = this.now() + this.openMs;
    this.consecutiveFailures = 0;
    this.transition('open');
  }

  private transition(next: CircuitState): void {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    if (next !== 'half-open') this.trialInFlight = false;
    for (const listener of this.listeners) listener(next, previous);
  }

  /** Move the window forward to now, clearing the buckets that fell out of it. */
  private advance(): number {
    const bucket = Math.floor(this.now() / this.bucketMs);
    const gap = bucket - this.head;
    if (gap > 0) {
      if (gap >= BUCKETS) {
        this.ok.fill(0);
        this.failed.fill(0);
      } else
        for (let b = this.head + 1; b <= bucket; b++) {
          this.ok[b % BUCKETS] = 0;
          this.failed[b % BUCKETS] = 0;
        }
      this.head = bucket;
    }
    return this.head % BUCKETS;
  }

  private count(ok: boolean): void {
    const i = this.advance();
    if (ok) this.ok[i]++;
    else this.failed[i]++;
  }

  private rateExceeded(): boolean {
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < BUCKETS; i++) {
      ok += this.ok[i];
      failed += this.failed[i];
    }
    const total = ok + failed;
    return total >= this.minCalls && failed / total >= this.failureRate;
  }
}
