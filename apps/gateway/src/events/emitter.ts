import { type AuditEvent, QueueName, type UsageEvent } from '@toolgate/contracts';
import type { RedisOptions } from 'ioredis';
import type { EventSink } from '../core/ports';
import { EventsConnection } from './connection';
import { EventQueues } from './queues';
import { Spool, type SpoolContents, type SpoolFile, spoolLine } from './spool';
import type { EventSinkStats, QueueEventSinkOptions } from './options';
import { Wal, type WalSegment, WalUnavailable } from './wal';

export type { EventSinkStats, QueueEventSinkOptions };

/**
 * Per-call events (one audit + one usage event per call) on their way to the BullMQ queues
 * `tg-audit` and `tg-usage`.
 *
 * - emit() serialises the two events into the write-ahead log (wal.ts): no I/O of its own, no
 *   await. The WAL writes and fdatasyncs the calls of one group at once; durable() is that
 *   group's promise, which the call's answer waits for, so no answer goes out without its record
 *   on disk. Once on disk the events join the in-memory batches below, and their WAL entries are
 *   retired once Redis accepted them (or the spool holds them).
 * - One flusher sends them every `flushMs`, or as soon as `batchSize` calls are waiting; one
 *   send at a time, at most `batchSize` events per queue per send, packed into jobs of up to
 *   MAX_EVENTS_PER_JOB events (queues.ts): BullMQ's cost is per job, so at the gateway's peak
 *   this is ~60× fewer jobs for the gateway to write and the consumers to take. One job per queue
 *   is handed to BullMQ per event-loop turn, so a big batch never holds the event loop for long
 *   (the jobs are pipelined on the one connection, connection.ts). Job id = a digest of the job's
 *   event ids (BullMQ ignores a job whose id it already holds, so a re-sent job is deduplicated).
 * - If Redis cannot take a batch (disconnected, error, or no answer within `sendTimeoutMs`) the
 *   batch is appended to the local spool (see spool.ts) and Redis is left alone for `retryMs`;
 *   while Redis is down every batch goes straight to the spool. Beyond `maxBuffered` waiting
 *   events, new ones go to the spool as soon as they are on disk. Either way their WAL entries
 *   are retired once the spool has them on disk.
 * - Once Redis answers again the spool is replayed, oldest file first, and each file is deleted
 *   only after all of its events were accepted. Spool files and WAL segments left by a previous
 *   process (crash, SIGKILL, restart, or a close() that could not reach Redis) are claimed and
 *   replayed on start(): a crash loses no event whose call was answered.
 * - emit() after close() still loses nothing: the events are written and fdatasync'd
 *   synchronously to a WAL file that the next process replays.
 *
 * Delivery is at least once: a batch whose answer was lost is sent again, and BullMQ drops the
 * copy while it still holds the job (completed jobs are kept per queueCatalog's
 * `removeOnComplete`); consumers are idempotent on the event id for the rest.
 */

/** A batch taken from memory and not yet acknowledged: close() spools it if time runs out. */
interface InFlight {
  audit: AuditEvent[];
  usage: UsageEvent[];
  segs: WalSegment[];
  spooled: boolean;
}

/** One call's events, as the WAL holds them until they are on disk. */
interface CallEvents {
  audit: AuditEvent;
  usage: UsageEvent;
}

const resolved = Promise.resolve();

type State = 'new' | 'started' | 'closing' | 'closed';

export class QueueEventSink implements EventSink {
  private audit: AuditEvent[] = [];
  private usage: UsageEvent[] = [];
  /** The WAL segment of each buffered call (parallel to audit and usage). */
  private segs: WalSegment[] = [];
  private readonly spool: Spool;
  private readonly wal: Wal<CallEvents>;
  /** The commit of the latest emit(). */
  private lastCommit: Promise<void> = resolved;
  /** Spooled batches whose WAL entries are retired once the spool has them on disk. */
  private readonly retiring = new Set<Promise<void>>();
  private readonly connection: RedisOptions | string;
  private readonly prefix: string;
  private readonly flushMs: number;
  private readonly batchSize: number;
  private readonly maxCalls: number;
  private readonly sendTimeoutMs: number;
  private readonly retryMs: number;
  private readonly onError: (err: Error) => void;

  private state: State = 'new';
  private conn: EventsConnection | null = null;
  private queues: EventQueues | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private pumping: Promise<void> | null = null;
  private flushDue = false;
  /** Redis failed recently: spool instead of sending until then (ms epoch). */
  private downUntil = 0;
  private inFlight: InFlight | null = null;
  private starting: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private readonly counters = { flushed: 0, failedFlushes: 0, corruptSpoolLines: 0, droppedEvents: 0 };

  constructor(options: QueueEventSinkOptions) {
    this.prefix = options.prefix ?? 'bull';
    this.flushMs = options.flushMs ?? 250;
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.maxCalls = Math.max(1, Math.floor((options.maxBuffered ?? 100_000) / 2));
    this.sendTimeoutMs = options.sendTimeoutMs ?? 5000;
    this.retryMs = options.retryMs ?? 1000;
    this.onError = options.onError ?? (() => undefined);
    this.connection = options.connection;
    this.spool = new Spool({
      dir: options.spoolDir,
      maxFileBytes: options.maxSpoolFileBytes,
      maxPendingEvents: options.maxBuffered,
      onError: (err) => this.onError(err),
    });
    this.wal = new Wal<CallEvents>({
      dir: options.spoolDir,
      maxSegmentBytes: options.maxWalSegmentBytes,
      commitTimeoutMs: options.walCommitTimeoutMs,
      flush: options.walFlush,
      onDurable: (calls, segment) => this.durableCalls(calls, segment),
      onError: (err) => this.onError(err),
    });
  }

  /**
   * Takes the spool (claiming files left by previous processes), connects to Redis and starts
   * the flusher. Events emitted before start() wait in memory. Rejects if the spool directory
   * cannot be used.
   */
  start(): Promise<void> {
    this.starting ??= this.open();
    return this.starting;
  }

  private async open(): Promise<void> {
    try {
      // The spool first: it claims the WAL segments of processes that died.
      await this.spool.open();
      await this.wal.open();
    } catch (err) {
      this.starting = null; // let the caller retry once the directory is usable
      throw err;
    }
    if (this.state !== 'new') return; // closed meanwhile
    this.conn = new EventsConnection(this.connection, {
      ready: () => {
        this.downUntil = 0;
        this.kick();
      },
      error: (err) => this.onError(err),
    });
    this.queues = new EventQueues(this.conn.redis, this.prefix);
    this.state = 'started';
    this.timer = setInterval(() => {
      this.flushDue = true;
      this.kick();
    }, this.flushMs);
    this.timer.unref();
    this.kick();
  }

  emit(audit: AuditEvent, usage: UsageEvent): void {
    const text = this.callLines(audit, usage);
    if (text === null) {
      const refused = Promise.reject(new WalUnavailable('event log: an event could not be serialised'));
      refused.catch(() => undefined);
      this.lastCommit = refused;
      return;
    }
    this.lastCommit = this.wal.append(text, { audit, usage });
  }

  /** The commit of the latest emit(): its answer waits for it (see calls.ts). */
  durable(): Promise<void> {
    return this.lastCommit;
  }

  /** False while the WAL cannot record (disk refusing or too slow): calls are refused before they run. */
  get accepting(): boolean {
    return this.wal.accepting;
  }

  /** A WAL group is on disk: its calls' events may go to Redis now. */
  private durableCalls(calls: readonly CallEvents[], segment: WalSegment): void {
    if (this.state === 'closed') return; // the segment stays on disk for the next process
    let i = 0;
    for (; i < calls.length && this.audit.length < this.maxCalls; i++) {
      this.audit.push(calls[i]!.audit);
      this.usage.push(calls[i]!.usage);
      this.segs.push(segment);
    }
    if (i < calls.length) {
      const rest = calls.slice(i);
      this.spoolAndRetire(
        rest.map((c) => c.audit),
        rest.map((c) => c.usage),
        rest.map(() => segment),
      );
    }
    if (this.audit.length >= this.batchSize && this.immediate === null && this.pumping === null && this.state === 'started') {
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.kick();
      });
    }
  }

  stats(): EventSinkStats {
    return {
      buffered: this.audit.length + this.usage.length,
      sending: this.inFlight === null || this.inFlight.spooled ? 0 : this.inFlight.audit.length + this.inFlight.usage.length,
      spooledEvents: this.spool.events,
      spoolBytes: this.spool.bytes,
      flushed: this.counters.flushed,
      failedFlushes: this.counters.failedFlushes,
      corruptSpoolLines: this.counters.corruptSpoolLines,
      droppedEvents: this.counters.droppedEvents + this.spool.droppedEvents,
      redisConnected: this.conn?.ready ?? false,
    };
  }

  /**
   * Sends what is buffered; whatever Redis has not taken after `deadlineMs` (or at once, when
   * Redis is down) is spooled for the next process. Then closes the queues and the connection.
   */
  close(deadlineMs = 5000): Promise<void> {
    this.closing ??= this.shutdown(deadlineMs);
    return this.closing;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    const wasStarted = this.state === 'started';
    this.state = 'closing';
    // Groups on their way to disk join the batches first.
    await this.wal.flush();
    if (this.timer) clearInterval(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (wasStarted) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
      });
      await Promise.race([this.connected().then(() => this.drain()), deadline]);
      clearTimeout(timer);
    }
    // What Redis did not take in time goes to disk (a late success is deduplicated by job id).
    const inFlight = this.inFlight;
    if (inFlight !== null && !inFlight.spooled) {
      inFlight.spooled = true;
      this.spoolAndRetire(inFlight.audit, inFlight.usage, inFlight.segs);
    }
    if (this.audit.length > 0) {
      const { audit, usage, segs } = this;
      this.audit = [];
      this.usage = [];
      this.segs = [];
      this.spoolAndRetire(audit, usage, segs);
    }
    this.state = 'closed';
    await this.spool.close();
    await Promise.all(this.retiring);
    await this.wal.close();
    await this.disconnect();
  }

  /**
   * Resolves once the connection is up, or at once when Redis is known to be unreachable: a
   * sink closed right after start() should not spool what Redis is about to accept.
   */
  private connected(): Promise<void> {
    if (this.conn === null || this.audit.length === 0) return Promise.resolve();
    return this.conn.settled();
  }

  /** Runs the flusher until memory is empty (used by close). */
  private async drain(): Promise<void> {
    for (;;) {
      this.kick();
      if (this.pumping === null) return;
      await this.pumping;
      if (this.audit.length === 0) return;
    }
  }

  private kick(): void {
    if (this.pumping === null && (this.state === 'started' || this.state === 'closing')) {
      this.pumping = this.pump().finally(() => {
        this.pumping = null;
      });
    }
  }

  /** The one flusher: memory batches first, then spool replay while Redis is usable. */
  private async pump(): Promise<void> {
    for (;;) {
      if (this.state === 'closed') return;
      const waiting = this.audit.length;
      if (waiting > 0 && (this.flushDue || waiting >= this.batchSize || this.state === 'closing')) {
        await this.flushBatch();
        continue;
      }
      this.flushDue = false;
      if (this.state === 'started' && !this.spool.isEmpty && this.usable() && (await this.replayOldest())) continue;
      return;
    }
  }

  private usable(): boolean {
    return (this.conn?.ready ?? false) && Date.now() >= this.downUntil;
  }

  /** Sends (or, while Redis is down, spools) up to one batch from memory. */
  private async flushBatch(): Promise<void> {
    const n = Math.min(this.audit.length, this.batchSize);
    let audit: AuditEvent[];
    let usage: UsageEvent[];
    let segs: WalSegment[];
    if (n === this.audit.length) {
      ({ audit, usage, segs } = this);
      this.audit = [];
      this.usage = [];
      this.segs = [];
    } else {
      audit = this.audit.splice(0, n);
      usage = this.usage.splice(0, n);
      segs = this.segs.splice(0, n);
    }
    if (!this.usable()) {
      this.spoolAndRetire(audit, usage, segs);
      return;
    }
    const batch: InFlight = { audit, usage, segs, spooled: false };
    this.inFlight = batch;
    const ok = await this.send(audit, usage);
    if (this.inFlight === batch) this.inFlight = null;
    if (batch.spooled) return; // close() already put it on disk
    if (ok.audit && ok.usage) this.retire(segs);
    else this.spoolAndRetire(ok.audit ? [] : audit, ok.usage ? [] : usage, segs);
  }

  private retire(segs: readonly WalSegment[]): void {
    for (const seg of segs) this.wal.retire(seg);
  }

  /**
   * Moves events that Redis did not take from the WAL to the spool: their WAL entries are retired
   * once the spool has them on disk (while the disk refuses, they stay in both; the copies are
   * deduplicated by the consumers).
   */
  private spoolAndRetire(audit: readonly AuditEvent[], usage: readonly UsageEvent[], segs: readonly WalSegment[]): void {
    this.spoolEvents(audit, usage);
    if (segs.length === 0) return;
    const done = this.spool.flushed().then(
      (onDisk) => {
        if (onDisk) this.retire(segs);
      },
      () => undefined,
    );
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
  }

  /** Replays the oldest spool file. False when the spool is empty or Redis failed meanwhile. */
  private async replayOldest(): Promise<boolean> {
    let file: SpoolFile | null = null;
    let contents: SpoolContents;
    try {
      file = await this.spool.oldest();
      if (file === null) return false;
      contents = await this.spool.read(file);
    } catch (err) {
      if (file === null) {
        this.onError(err as Error);
        return false;
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // Deleted by someone else: nothing left to replay from it.
        await this.spool.remove(file).catch(() => undefined);
      } else {
        // Unreadable here: leave it on disk for the next process, go on with the next file.
        this.onError(err as Error);
        this.spool.skip(file);
      }
      return true;
    }
    const { audit, usage } = contents;
    const total = Math.max(audit.length, usage.length);
    for (let i = 0; i < total; i += this.batchSize) {
      if (this.state !== 'started' || !this.usable()) return false;
      const ok = await this.send(audit.slice(i, i + this.batchSize), usage.slice(i, i + this.batchSize));
      if (!ok.audit || !ok.usage) return false; // the file stays; already accepted jobs are deduplicated next time
      // Fresh events do not wait for a long replay.
      if (this.audit.length >= this.batchSize || (this.flushDue && this.audit.length > 0)) await this.flushBatch();
    }
    // Every valid line was accepted: the file is done (counted once, before it disappears).
    this.counters.corruptSpoolLines += contents.corrupt;
    try {
      await this.spool.remove(file);
    } catch (err) {
      this.onError(err as Error); // forgotten anyway; a later process re-sends duplicates at worst
    }
    return true;
  }

  /** Both queues in parallel, each in jobs (see queues.ts). Reports which queue accepted its part. */
  private async send(audit: AuditEvent[], usage: UsageEvent[]): Promise<{ audit: boolean; usage: boolean }> {
    let error: unknown = null;
    let ok = { audit: false, usage: false };
    try {
      const [a, u] = await this.queues!.add(audit, usage, this.sendTimeoutMs);
      ok = { audit: a.status === 'fulfilled', usage: u.status === 'fulfilled' };
      if (a.status === 'rejected') error = a.reason;
      else if (u.status === 'rejected') error = u.reason;
    } catch (err) {
      error = err;
    }
    if (ok.audit) this.counters.flushed += audit.length;
    if (ok.usage) this.counters.flushed += usage.length;
    if (error !== null) {
      this.counters.failedFlushes++;
      this.downUntil = Date.now() + this.retryMs;
      this.onError(error instanceof Error ? error : new Error(String(error)));
    }
    return ok;
  }

  private async disconnect(): Promise<void> {
    await this.queues?.close();
    this.queues = null;
    const conn = this.conn;
    this.conn = null;
    await conn?.close();
  }

  /** Appends events to the spool; one that cannot be serialised is dropped and counted. */
  private spoolEvents(audit: readonly AuditEvent[], usage: readonly UsageEvent[]): void {
    let text = '';
    let n = 0;
    for (const e of audit) {
      const line = this.line(QueueName.Audit, e);
      if (line !== null) {
        text += line;
        n++;
      }
    }
    for (const e of usage) {
      const line = this.line(QueueName.Usage, e);
      if (line !== null) {
        text += line;
        n++;
      }
    }
    if (n > 0) this.spool.append(text, n);
  }

  /** A call's two WAL lines, or null (counted and reported) when they cannot be serialised. */
  private callLines(audit: AuditEvent, usage: UsageEvent): string | null {
    try {
      return spoolLine(QueueName.Audit, audit) + spoolLine(QueueName.Usage, usage);
    } catch (err) {
      this.counters.droppedEvents += 2;
      this.onError(err as Error);
      return null;
    }
  }

  private line(queue: QueueName, event: AuditEvent | UsageEvent): string | null {
    try {
      return spoolLine(queue, event);
    } catch (err) {
      this.counters.droppedEvents++;
      this.onError(err as Error);
      return null;
    }
  }
}
