import type { Logger } from '@nestjs/common';
import { describeFailure, isConnectionFailure } from './failures';

/** Probe delays while a dependency is down: doubling from baseMs, capped at maxMs. */
export interface ProbeBackoff {
  baseMs: number;
  maxMs: number;
}

/**
 * One dependency's outage, as seen by one consumer: while it lasts, the consumer holds its work
 * and `waitUntilUp` probes the dependency with backoff. Concurrent callers (e.g. the lanes of a
 * batch) share one probe loop, so a dependency that is down is probed once per delay, not once
 * per caller.
 */
export class Outage {
  private probing: Promise<boolean> | null = null;

  constructor(
    private readonly dependency: string,
    private readonly backoff: ProbeBackoff,
    private readonly logger: Logger,
  ) {}

  get down(): boolean {
    return this.probing !== null;
  }

  /**
   * Resolves true once `probe` gets an answer (it succeeds, or fails with anything but a
   * connection-class failure), false if `signal` aborts first (shutdown). `cause` is the failure
   * that revealed the outage (logged once).
   */
  waitUntilUp(cause: unknown, probe: () => Promise<unknown>, signal: AbortSignal): Promise<boolean> {
    if (!this.probing) {
      this.logger.warn(`${this.dependency} unreachable, pausing until it is back: ${describeFailure(cause)}`);
      this.probing = this.probeLoop(probe, signal).finally(() => {
        this.probing = null;
      });
    }
    return this.probing;
  }

  private async probeLoop(probe: () => Promise<unknown>, signal: AbortSignal): Promise<boolean> {
    const started = Date.now();
    for (let delay = this.backoff.baseMs; ; delay = Math.min(delay * 2, this.backoff.maxMs)) {
      if (!(await sleep(delay, signal))) return false;
      try {
        await probe();
      } catch (e) {
        // A refusal is an answer: the dependency is back, the probe's own request was at fault.
        if (isConnectionFailure(e)) {
          this.logger.warn(
            `${this.dependency} still unreachable (next probe in ${Math.min(delay * 2, this.backoff.maxMs)} ms): ${describeFailure(e)}`,
          );
          continue;
        }
      }
      this.logger.log(`${this.dependency} is back after ${Math.round((Date.now() - started) / 1000)} s, resuming`);
      return true;
    }
  }
}

/** Waits `ms`; false if `signal` aborted (before or during the wait). */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (up: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(up);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
