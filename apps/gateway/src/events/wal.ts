import { closeSync, constants, fdatasyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { lockInstance, newInstance, segmentPath, unlockInstance } from './spool';

/** A WAL file. Its calls are retired one by one once delivered; sealed and fully retired, it is deleted. */
export interface WalSegment {
  readonly path: string;
  bytes: number;
  /** Calls written to it and not retired yet. */
  unretired: number;
  sealed: boolean;
  deleted: boolean;
}

/** The calls of a group could not be recorded (disk full, failing or too slow): their answers must not go out. */
export class WalUnavailable extends Error {}

export interface WalOptions<T> {
  dir: string;
  /** Segments rotate at this size (what a crash may replay twice). Default 1 MiB. */
  maxSegmentBytes?: number;
  /** A group not on disk within this long is refused. Default 2000 ms. */
  commitTimeoutMs?: number;
  /** While the disk refuses writes, probe it this often. Default 1000 ms. */
  retryMs?: number;
  /**
   * When a group counts as written: `disk` (default) once the device has it (O_DSYNC, and the
   * segment's name synced into its folder), so a record survives a power cut or kernel crash of the
   * host; `os` once the kernel has it (page cache), which survives any crash of the gateway process
   * (SIGKILL, OOM kill, panic) at once, and is synced to the device every second off the answers'
   * path (a host crash loses at most about the last second), for a fraction of the latency on slow disks.
   */
  flush?: WalFlush;
  /** A group reached the disk: its items may leave now; each is to be retired with retire(segment). */
  onDurable: (items: T[], segment: WalSegment) => void;
  onError?: (err: Error) => void;
}

interface Group<T> {
  chunks: string[];
  items: T[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
  settled: boolean;
}

const noop = () => undefined;

/** A fully retired segment is sealed (and deleted) after this long without writes. */
const IDLE_SEAL_MS = 200;

export type WalFlush = 'disk' | 'os';

/** Appends; with `disk` every write is on the device when it returns (O_DSYNC): one system call per group instead of write + fdatasync. */
const APPEND = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND;
const SEGMENT_FLAGS: Record<WalFlush, number> = { disk: APPEND | constants.O_DSYNC, os: APPEND };
/** `os` mode: written segments are synced to the device this often, so a host crash loses at most about this much. */
const OS_SYNC_INTERVAL_MS = 1000;

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes all of `data` (a short write is continued). */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await handle.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

/** One writer: a segment of its own, written one group at a time (so a failed group can be cut off its end). */
interface Lane<T> {
  active: { segment: WalSegment; handle: FileHandle; synced: number } | null;
  /** The group being written. */
  writing: Group<T> | null;
  writeStartedAt: number;
  committing: Promise<void> | null;
  idleTimer: NodeJS.Timeout | null;
}

/** Writers: while one lane's write is flushing, the next group goes out on the other. */
const LANES = 2;

/**
 * The write-ahead log of the calls' events, with group commit: every call whose events arrive
 * while the writes are on their way (or within one event-loop turn) shares one synchronous write
 * (O_DSYNC: on disk when it returns), and one promise that its answers wait for. No timer window:
 * under load the disk flush itself is the window, so a lone call pays one flush and nothing more.
 * Two lanes, each with its own segment, write in turn: a group waits for a free lane, not for the
 * flush before it (the filesystem overlaps the two flushes).
 *
 * Files are spool files (`spool.ts` naming, under a lock of their own), so a process that dies
 * leaves segments that the next process's spool claims and replays like any spool file.
 *
 * A group that fails (ENOSPC, EIO) or is not on disk within `commitTimeoutMs` is refused and
 * its bytes are truncated away (its lane writes one group at a time, so they are the segment's
 * end), so no record outlives a refused answer (barring a crash between a late write and its
 * truncation). Until a write succeeds again `accepting` is false.
 */
export class Wal<T> {
  readonly instance = newInstance();
  private readonly maxSegmentBytes: number;
  private readonly commitTimeoutMs: number;
  private readonly retryMs: number;
  private readonly onError: (err: Error) => void;
  private state: 'new' | 'open' | 'closed' = 'new';
  /** The group taking appends. */
  private group: Group<T> | null = null;
  private scheduled = false;
  private readonly lanes: Lane<T>[] = Array.from({ length: LANES }, () => ({
    active: null,
    writing: null,
    writeStartedAt: 0,
    committing: null,
    idleTimer: null,
  }));
  private nextSeq = 0;
  private failing = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private afterClosePath: string | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private readonly flushMode: WalFlush;

  constructor(private readonly options: WalOptions<T>) {
    this.maxSegmentBytes = options.maxSegmentBytes ?? 1024 * 1024;
    this.commitTimeoutMs = options.commitTimeoutMs ?? 2000;
    this.retryMs = options.retryMs ?? 1000;
    this.onError = options.onError ?? noop;
    this.flushMode = options.flush ?? 'disk';
  }

  /** False while the disk refuses writes, or a write on its way is older than `commitTimeoutMs`. */
  get accepting(): boolean {
    if (this.state === 'closed') return true; // appends are written synchronously then
    const now = performance.now();
    return !this.failing && this.lanes.every((l) => l.writing === null || now - l.writeStartedAt < this.commitTimeoutMs);
  }

  /** Takes the lock; groups appended before are written now. */
  async open(): Promise<void> {
    if (this.state !== 'new') return;
    await lockInstance(this.options.dir, this.instance);
    this.state = 'open';
    if (this.flushMode === 'os') this.syncTimer = setInterval(() => this.syncWritten(), OS_SYNC_INTERVAL_MS).unref();
    if (this.group) this.arm(this.group);
    this.schedule();
  }

  /**
   * Adds a call's lines (complete NDJSON lines) to the current group. The promise, shared by the
   * group, resolves once they are on disk and rejects with WalUnavailable when they cannot be.
   */
  append(text: string, item: T): Promise<void> {
    if (this.state === 'closed') return this.appendAfterClose(text);
    if (this.group === null) this.group = this.newGroup();
    this.group.chunks.push(text);
    this.group.items.push(item);
    this.schedule();
    return this.group.promise;
  }

  /**
   * One item of `segment` was delivered; the segment goes once sealed and fully retired. A lane's
   * segment is sealed once traffic pauses with all of it retired, so a crash leaves little to
   * replay twice, and under load no file is opened more than once per segment.
   */
  retire(segment: WalSegment, n = 1): void {
    segment.unretired -= n;
    const lane = this.lanes.find((l) => l.active?.segment === segment);
    if (segment.unretired <= 0 && lane) this.sealWhenIdle(lane);
    else void this.deleteIfDone(segment);
  }

  /** Resolves once no group is waiting or being written. */
  async flush(): Promise<void> {
    while (this.state === 'open' && (this.group !== null || this.lanes.some((l) => l.writing !== null))) {
      const committing = this.lanes.find((l) => l.committing !== null)?.committing;
      if (committing) await committing;
      else await new Promise<void>((resolve) => setImmediate(resolve)); // the commit is scheduled
    }
  }

  /**
   * Writes what waits, seals the segments and releases the lock: segments with calls not retired
   * stay on disk for the next process. Appends made afterwards are written synchronously.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    await this.flush();
    this.state = 'closed';
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    const early = this.group; // appended before open()
    this.group = null;
    if (early)
      this.appendAfterClose(early.chunks.join('')).then(
        () => this.settle(early, null),
        (err: Error) => this.settle(early, err),
      );
    for (const lane of this.lanes) {
      if (lane.idleTimer) clearTimeout(lane.idleTimer);
      lane.idleTimer = null;
      await this.seal(lane);
    }
    if (wasOpen) await unlockInstance(this.options.dir, this.instance);
  }

  private sealWhenIdle(lane: Lane<T>): void {
    if (lane.idleTimer !== null) return;
    lane.idleTimer = setTimeout(() => {
      lane.idleTimer = null;
      const a = lane.active;
      if (a !== null && a.segment.unretired <= 0 && lane.writing === null && this.group === null) {
        void this.seal(lane).catch((err: Error) => this.onError(err));
      }
    }, IDLE_SEAL_MS);
    lane.idleTimer.unref();
  }

  private newGroup(): Group<T> {
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(noop); // emits nobody waits for (auth failures) must not become unhandled rejections
    const group: Group<T> = { chunks: [], items: [], promise, resolve, reject, timer: null, settled: false };
    if (this.state === 'open') this.arm(group);
    return group;
  }

  /** The group's deadline: past it, its calls are refused (and its bytes, if they land later, removed). */
  private arm(group: Group<T>): void {
    group.timer = setTimeout(() => {
      if (group.settled) return;
      this.settle(group, new WalUnavailable(`event log: not on disk within ${this.commitTimeoutMs} ms`));
      if (this.group === group) this.group = null;
    }, this.commitTimeoutMs);
    group.timer.unref();
  }

  private settle(group: Group<T>, err: Error | null): void {
    if (group.timer) clearTimeout(group.timer);
    if (group.settled) return;
    group.settled = true;
    if (err) group.reject(err);
    else group.resolve();
  }

  private schedule(): void {
    if (this.state !== 'open' || this.scheduled || this.group === null || !this.lanes.some((l) => l.writing === null)) return;
    this.scheduled = true;
    // One turn's worth of appends joins the group before it goes.
    setImmediate(() => {
      this.scheduled = false;
      const lane = this.lanes.find((l) => l.writing === null);
      if (lane === undefined || this.group === null) return;
      lane.committing = this.commit(lane).finally(() => {
        lane.committing = null;
      });
    });
  }

  /** Writes the current group on `lane`: one synchronous write. */
  private async commit(lane: Lane<T>): Promise<void> {
    const group = this.group;
    this.group = null;
    if (group === null || this.state !== 'open') return;
    lane.writing = group;
    lane.writeStartedAt = performance.now();
    this.schedule(); // the next group may go out on the other lane meanwhile
    const data = Buffer.from(group.chunks.length === 1 ? group.chunks[0]! : group.chunks.join(''), 'utf8');
    let segment: WalSegment | null = null;
    let before = 0;
    try {
      segment = this.segmentReady(lane, data.length) ?? (await this.rotate(lane));
      before = segment.bytes;
      await writeAll(lane.active!.handle, data);
      segment.bytes += data.length;
      this.failing = false;
      if (group.settled) {
        // Refused meanwhile (too slow): its answers went out as errors, so its records must go.
        await this.truncate(lane, segment, before);
      } else {
        segment.unretired += group.items.length;
        this.settle(group, null);
        if (group.items.length > 0) this.options.onDurable(group.items, segment);
      }
    } catch (err) {
      this.failing = true;
      this.onError(err as Error);
      // Cut the partial group away before answering: a crash in between must not leave records of calls that were refused.
      if (segment) await this.truncate(lane, segment, before).catch(noop);
      this.settle(group, new WalUnavailable(`event log: ${(err as Error).message}`));
      await this.seal(lane).catch(noop); // the next attempt goes to a fresh file
      this.probeLater();
    } finally {
      lane.writing = null;
    }
    this.schedule();
  }

  /** Cuts a lane's segment back to `bytes` (a failed or refused group's tail) and seals it. */
  private async truncate(lane: Lane<T>, segment: WalSegment, bytes: number): Promise<void> {
    const active = lane.active;
    if (active === null || active.segment !== segment) return;
    try {
      await active.handle.truncate(bytes);
      await active.handle.datasync();
      segment.bytes = bytes;
    } catch (err) {
      this.onError(new Error(`event log: could not remove refused records from ${segment.path}: ${(err as Error).message}`));
    }
    await this.seal(lane);
  }

  /** While the disk refuses writes, a blank line (skipped on replay) tests it now and then. */
  private probeLater(): void {
    if (this.probeTimer !== null || this.state !== 'open') return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (!this.failing || this.state !== 'open') return;
      if (this.group === null) this.group = this.newGroup();
      this.group.chunks.push('\n');
      this.schedule();
    }, this.retryMs);
    this.probeTimer.unref();
  }

  /** The lane's segment, if `bytes` more fit in it (no await: the common case costs no event-loop turn). */
  private segmentReady(lane: Lane<T>, bytes: number): WalSegment | null {
    const a = lane.active;
    return a !== null && (a.segment.bytes === 0 || a.segment.bytes + bytes <= this.maxSegmentBytes) ? a.segment : null;
  }

  private async rotate(lane: Lane<T>): Promise<WalSegment> {
    await this.seal(lane);
    const path = segmentPath(this.options.dir, this.instance, this.nextSeq++, 'wal');
    const handle = await open(path, SEGMENT_FLAGS[this.flushMode], 0o644);
    if (this.flushMode === 'disk') await syncDir(this.options.dir); // the new file's name survives a power cut too
    const segment: WalSegment = { path, bytes: 0, unretired: 0, sealed: false, deleted: false };
    lane.active = { segment, handle, synced: 0 };
    return segment;
  }

  private async seal(lane: Lane<T>): Promise<void> {
    const a = lane.active;
    if (a === null) return;
    lane.active = null;
    a.segment.sealed = true;
    try {
      // In `os` mode what the segment holds goes to the device before it is left for replay.
      if (this.flushMode === 'os' && a.synced !== a.segment.bytes) await a.handle.datasync().catch(noop);
      await a.handle.close();
    } finally {
      await this.deleteIfDone(a.segment);
    }
  }

  /** `os` mode: the lanes' writes since the last pass go to the device, off every answer's path. */
  private syncWritten(): void {
    for (const lane of this.lanes) {
      const a = lane.active;
      if (a === null || a.synced === a.segment.bytes) continue;
      a.synced = a.segment.bytes;
      a.handle.datasync().catch(noop); // a segment sealed meanwhile is synced by seal()
    }
  }

  private async deleteIfDone(segment: WalSegment): Promise<void> {
    if (!segment.sealed || segment.unretired > 0 || segment.deleted) return;
    segment.deleted = true;
    await unlink(segment.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') this.onError(err);
    });
  }

  /**
   * After close() (a call that finished during shutdown): written and fdatasync'd synchronously
   * into a file of its own that the next process claims. Rare, so the fsync per call is fine.
   */
  private appendAfterClose(text: string): Promise<void> {
    try {
      if (this.afterClosePath === null) {
        mkdirSync(this.options.dir, { recursive: true });
        this.afterClosePath = segmentPath(this.options.dir, this.instance, this.nextSeq++, 'wal');
      }
      const fd = openSync(this.afterClosePath, 'a');
      try {
        writeSync(fd, text);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return Promise.resolve();
    } catch (err) {
      this.onError(err as Error);
      const refused = Promise.reject(new WalUnavailable(`event log: ${(err as Error).message}`));
      refused.catch(noop);
      return refused;
    }
  }
}
