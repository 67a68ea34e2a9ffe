import type { WalFlush } from './wal';
import type { RedisOptions } from 'ioredis';

/** What a QueueEventSink (emitter.ts) is told, and what it reports. */

export interface QueueEventSinkOptions {
  /**
   * Redis URL or ioredis options. The sink opens one connection of its own, shared by both
   * queues. It sets `enableOfflineQueue: false` and `maxRetriesPerRequest: 1`, so a send while
   * Redis is away fails at once instead of queueing (and a send caught by a disconnect fails
   * within `sendTimeoutMs`).
   */
  connection: RedisOptions | string;
  /** BullMQ key prefix. Default 'bull'. */
  prefix?: string;
  /** Send what is waiting at least this often. Default 250 ms. */
  flushMs?: number;
  /** Events per queue per send (in jobs of up to MAX_EVENTS_PER_JOB); a send starts as soon as this many calls are waiting. Default 500. */
  batchSize?: number;
  /** Directory for the spool and the write-ahead log (local to this host). */
  spoolDir: string;
  /** A WAL group not on disk within this long is refused (its calls' answers become errors). Default 2000 ms. */
  walCommitTimeoutMs?: number;
  /** When a call's record counts as written: on the device (`disk`, default) or in the kernel (`os`); see wal.ts. */
  walFlush?: WalFlush;
  /** Events (audit + usage) held in memory at most; beyond that emit() spools. Default 100,000. */
  maxBuffered?: number;
  /** Spool files rotate at this size. Default 8 MiB. */
  maxSpoolFileBytes?: number;
  /** WAL segments rotate at this size (what a crash may replay twice). Default 1 MiB. */
  maxWalSegmentBytes?: number;
  /** A send that Redis has not acknowledged within this long counts as failed. Default 5000 ms. */
  sendTimeoutMs?: number;
  /** After a failed send, spool without trying Redis for this long. Default 1000 ms. */
  retryMs?: number;
  /**
   * Errors worth logging: failed sends, Redis connection errors (one per reconnect attempt, so
   * rate-limit the logging), disk trouble, events that could not be serialised.
   */
  onError?: (err: Error) => void;
}

/** Counters for Prometheus. Events are counted singly (one emit() = 2 events). */
export interface EventSinkStats {
  /** Waiting in memory. */
  buffered: number;
  /** Taken from memory by the send in progress and not yet acknowledged (nor spooled). */
  sending: number;
  /** In the spool (on disk or being written). */
  spooledEvents: number;
  spoolBytes: number;
  /** Accepted by Redis since start (replayed ones included). */
  flushed: number;
  /** Sends that failed (then spooled, or left in the spool when replaying). */
  failedFlushes: number;
  /** Spool lines skipped at replay because they were not a valid event. */
  corruptSpoolLines: number;
  /** Events lost: not serialisable, or refused by the disk for longer than the spool can hold. */
  droppedEvents: number;
  /** The sink's Redis connection is up (readiness). */
  redisConnected: boolean;
}
