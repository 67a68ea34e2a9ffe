import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type AuditEvent, QueueName, queueCatalog, type UsageEvent } from '@toolgate/contracts';

/**
 * The local disk spool that holds events while Redis cannot take them.
 *
 * Format: NDJSON, one event per line, `{"q":"tg-audit"|"tg-usage","e":{…event…}}`.
 *
 * Files: `<instance>.<seq>.ndjson` (`.wal.ndjson`: a write-ahead log segment, wal.ts), where `<instance>` = `<start ms, 13 digits>-<pid>-<random>`
 * names one spool owner (one process) and `<seq>` (8 digits) orders its files, so sorting file
 * names sorts events oldest first. The owner holds `<instance>.lock` while it runs. Writes are
 * batched: everything appended while the previous write was on its way goes out in one write +
 * one fdatasync. A file is rotated once it would exceed `maxFileBytes`.
 *
 * Several processes may share a spool directory (one per host: the liveness check uses pids).
 * On open, a spool claims the files of every owner that is gone — no lock file, or a lock whose
 * pid is not running — by renaming them into its own name space (rename is atomic, so two
 * starting processes never both claim a file), oldest first and ahead of its own new files.
 */

/** A spool file and what it holds. */
export interface SpoolFile {
  readonly path: string;
  readonly seq: number;
  /** Events (lines) written to it, including corrupt ones when the file was claimed. */
  events: number;
  bytes: number;
}

export interface SpoolContents {
  audit: AuditEvent[];
  usage: UsageEvent[];
  /** Lines that were not a valid event (e.g. a line cut short by a crash): skipped. */
  corrupt: number;
}

export interface SpoolOptions {
  dir: string;
  /** Rotate files at this size. Default 8 MiB. */
  maxFileBytes?: number;
  /**
   * While writes fail (disk full, read-only), at most this many events wait in memory for the
   * next attempt; older ones are dropped and counted. Default 100,000.
   */
  maxPendingEvents?: number;
  onError?: (err: Error) => void;
}

const FILE_RE = /^(\d{13}-\d+-[0-9a-f]+)\.(\d{8})(?:\.wal)?\.ndjson$/;
const LOCK_RE = /^(\d{13}-\d+-[0-9a-f]+)\.lock$/;
const WRITE_RETRY_MS = 1000;

/** Serialises one event as a spool line (the hot path never calls this unless it must spool). */
export function spoolLine(queue: QueueName, event: AuditEvent | UsageEvent): string {
  return `{"q":"${queue}","e":${JSON.stringify(event)}}\n`;
}

/** Parses and validates a spool file's text; invalid lines are counted, not thrown. */
export function parseSpool(text: string): SpoolContents {
  const out: SpoolContents = { audit: [], usage: [], corrupt: 0 };
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    let record: { q?: unknown; e?: unknown };
    try {
      record = JSON.parse(line);
    } catch {
      out.corrupt++;
      continue;
    }
    if (record === null || typeof record !== 'object') {
      out.corrupt++;
    } else if (record.q === QueueName.Audit) {
      const parsed = queueCatalog[QueueName.Audit].schema.safeParse(record.e);
      if (parsed.success) out.audit.push(parsed.data);
      else out.corrupt++;
    } else if (record.q === QueueName.Usage) {
      const parsed = queueCatalog[QueueName.Usage].schema.safeParse(record.e);
      if (parsed.success) out.usage.push(parsed.data);
      else out.corrupt++;
    } else {
      out.corrupt++;
    }
  }
  return out;
}

/** Non-blank lines (the WAL's disk probe writes blank ones). */
function countLines(text: string): number {
  let n = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (end > start) n++;
    start = end + 1;
  }
  return n;
}

/** Spools and WALs open in this process: alive although they share our pid. */
const openHere = new Set<string>();

/** A new owner name (see the file naming above). */
export function newInstance(): string {
  return `${String(Date.now()).padStart(13, '0')}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** The path of an owner's file number `seq` (`.wal.ndjson` for the write-ahead log's). */
export function segmentPath(dir: string, instance: string, seq: number, kind: 'spool' | 'wal' = 'spool'): string {
  return join(dir, `${instance}.${String(seq).padStart(8, '0')}${kind === 'wal' ? '.wal' : ''}.ndjson`);
}

/** Takes `<instance>.lock` in `dir` (created if need be): the owner's files are not claimed while it runs. */
export async function lockInstance(dir: string, instance: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const lock = await open(join(dir, `${instance}.lock`), 'wx');
  await lock.close();
  openHere.add(instance);
}

/** Releases the lock: the owner's files left on disk are claimed by the next spool to open. */
export async function unlockInstance(dir: string, instance: string): Promise<void> {
  openHere.delete(instance);
  await unlink(join(dir, `${instance}.lock`)).catch(() => undefined);
}

function isRunning(instance: string): boolean {
  if (openHere.has(instance)) return true;
  const pid = Number(instance.split('-')[1]);
  if (pid === process.pid) return false; // our pid but not ours: a previous process (e.g. pid 1 in a container)
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Spool {
  readonly dir: string;
  /** This owner's name (see the file naming above). */
  readonly instance: string;
  private readonly maxFileBytes: number;
  private readonly maxPendingEvents: number;
  private readonly onError: (err: Error) => void;
  /** Files holding events, oldest first; the last may be the one being written. */
  private readonly files: SpoolFile[] = [];
  private active: { file: SpoolFile; handle: FileHandle } | null = null;
  private nextSeq = 0;
  private pending: string[] = [];
  private pendingEvents = 0;
  private pendingCounts: number[] = [];
  /** Events of the batch being written right now. */
  private writingEvents = 0;
  private drainQueued = false;
  /** Every file operation runs on this chain, one at a time. */
  private chain: Promise<unknown> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  private state: 'new' | 'open' | 'closed' = 'new';
  private dropped = 0;
  /** The last write failed: the disk is refusing data. */
  private failing = false;
  /** The one file that receives appends made after close(). */
  private afterClosePath: string | null = null;

  constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.maxFileBytes = options.maxFileBytes ?? 8 * 1024 * 1024;
    this.maxPendingEvents = options.maxPendingEvents ?? 100_000;
    this.onError = options.onError ?? (() => undefined);
    this.instance = newInstance();
  }

  /** Events on disk or on their way there. */
  get events(): number {
    let n = this.pendingEvents + this.writingEvents;
    for (const f of this.files) n += f.events;
    return n;
  }

  /** Bytes on disk. */
  get bytes(): number {
    let n = 0;
    for (const f of this.files) n += f.bytes;
    return n;
  }

  /** Events given up because the disk refused them for too long. */
  get droppedEvents(): number {
    return this.dropped;
  }

  /** True when no event is spooled (no file to replay, nothing waiting to be written). */
  get isEmpty(): boolean {
    return this.files.length === 0 && this.pendingEvents === 0 && this.writingEvents === 0;
  }

  /** Creates the directory, takes the lock and claims files left by owners that are gone. */
  open(): Promise<void> {
    if (this.state !== 'new') return Promise.resolve();
    this.state = 'open';
    return this.enqueue(async () => {
      try {
        await lockInstance(this.dir, this.instance);
      } catch (err) {
        this.state = 'new'; // unusable directory: the caller may fix it and open again
        throw err;
      }
      await this.claimLeftovers();
      await this.drain(); // appends made before open()
    });
  }

  /**
   * Queues `text` (complete lines) for the disk. Returns at once; the data is written and
   * fsync'd by the writer, batched with whatever else arrives meanwhile. Before open() the data
   * waits in memory; after close() it is appended synchronously to a file of its own, which the
   * next process claims.
   */
  append(text: string, events: number): void {
    if (this.state === 'closed') {
      this.appendAfterClose(text, events);
      return;
    }
    this.pending.push(text);
    this.pendingCounts.push(events);
    this.pendingEvents += events;
    if (this.failing) this.dropOldest();
    if (this.state === 'open') this.queueDrain();
  }

  /** Resolves once everything appended so far is on disk (or the disk refused it). */
  flush(): Promise<void> {
    return this.enqueue(() => this.drain());
  }

  /** Like flush(), then true when nothing is left waiting for the disk (everything appended is on it). */
  async flushed(): Promise<boolean> {
    await this.flush();
    return this.pending.length === 0;
  }

  /**
   * The oldest file, complete and no longer written to (the file being written is sealed first
   * if it is the only one), or null when the spool is empty.
   */
  oldest(): Promise<SpoolFile | null> {
    return this.enqueue(async () => {
      await this.drain();
      const first = this.files[0];
      if (first === undefined) return null;
      if (this.active?.file === first) await this.seal();
      return first;
    });
  }

  /** Reads and validates a sealed file. */
  async read(file: SpoolFile): Promise<SpoolContents> {
    return parseSpool(await readFile(file.path, 'utf8'));
  }

  /**
   * Deletes a replayed file. The spool forgets it even if the deletion fails (the error is
   * rethrown for logging): its events were delivered, and a later process that finds the file
   * again re-sends copies that BullMQ and the consumers deduplicate.
   */
  remove(file: SpoolFile): Promise<void> {
    return this.enqueue(async () => {
      const i = this.files.indexOf(file);
      if (i !== -1) this.files.splice(i, 1);
      await unlink(file.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    });
  }

  /**
   * Stops handing out a file this process cannot read, without deleting it: the replay moves on
   * to the next file, and the next process to claim the spool tries the file again.
   */
  skip(file: SpoolFile): void {
    const i = this.files.indexOf(file);
    if (i !== -1) this.files.splice(i, 1);
  }

  /** Writes what is pending, closes the current file and releases the lock. */
  close(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    return this.enqueue(async () => {
      if (wasOpen) await this.drain();
      await this.seal();
      // Data that the disk refused (or that arrived before open) gets one last synchronous try.
      if (this.pending.length > 0) {
        const text = this.pending.join('');
        const events = this.pendingEvents;
        this.pending = [];
        this.pendingCounts = [];
        this.pendingEvents = 0;
        this.appendAfterClose(text, events);
      }
      if (wasOpen) await unlockInstance(this.dir, this.instance);
      else openHere.delete(this.instance);
    });
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(op);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** While the disk refuses writes, memory holds at most maxPendingEvents: the oldest go. */
  private dropOldest(): void {
    while (this.pendingEvents > this.maxPendingEvents && this.pending.length > 1) {
      this.pending.shift();
      const n = this.pendingCounts.shift()!;
      this.pendingEvents -= n;
      this.dropped += n;
    }
  }

  private queueDrain(): void {
    if (this.drainQueued) return;
    this.drainQueued = true;
    void this.enqueue(async () => {
      this.drainQueued = false;
      await this.drain();
    });
  }

  /** Writes all pending data: one write and one fdatasync per batch. Never throws. */
  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      // Take the batch out of `pending`: appends made during the write form the next batch.
      const chunks = this.pending;
      const counts = this.pendingCounts;
      const events = this.pendingEvents;
      this.pending = [];
      this.pendingCounts = [];
      this.pendingEvents = 0;
      this.writingEvents = events;
      const data = Buffer.from(chunks.length === 1 ? chunks[0]! : chunks.join(''), 'utf8');
      try {
        if (this.active === null || (this.active.file.bytes > 0 && this.active.file.bytes + data.length > this.maxFileBytes)) {
          await this.rotate();
        }
        const active = this.active!;
        await active.handle.appendFile(data);
        await active.handle.datasync();
        active.file.bytes += data.length;
        active.file.events += events;
        this.writingEvents = 0;
        this.failing = false;
      } catch (err) {
        this.writingEvents = 0;
        this.failing = true;
        // Put the batch back in front (oldest first) and try again later.
        this.pending = chunks.concat(this.pending);
        this.pendingCounts = counts.concat(this.pendingCounts);
        this.pendingEvents += events;
        this.dropOldest();
        this.onError(err as Error);
        // The file may be unusable now (or half written): write the next attempt to a fresh one.
        await this.seal().catch(() => undefined);
        if (this.state === 'open' && this.retryTimer === null) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.queueDrain();
          }, WRITE_RETRY_MS);
          this.retryTimer.unref();
        }
        return;
      }
    }
  }

  private async rotate(): Promise<void> {
    await this.seal();
    const seq = this.nextSeq++;
    const path = segmentPath(this.dir, this.instance, seq);
    const handle = await open(path, 'a');
    const file: SpoolFile = { path, seq, events: 0, bytes: 0 };
    this.files.push(file);
    this.active = { file, handle };
  }

  /** Stops writing to the current file (it becomes replayable); an empty one is deleted. */
  private async seal(): Promise<void> {
    const active = this.active;
    if (active === null) return;
    this.active = null;
    try {
      await active.handle.close();
    } finally {
      if (active.file.bytes === 0) {
        const i = this.files.indexOf(active.file);
        if (i !== -1) this.files.splice(i, 1);
        await unlink(active.file.path).catch(() => undefined);
      }
    }
  }

  private async claimLeftovers(): Promise<void> {
    const names = (await readdir(this.dir)).sort();
    const live = new Set<string>();
    const locks: string[] = [];
    for (const name of names) {
      const m = LOCK_RE.exec(name);
      if (m === null || m[1] === this.instance) continue;
      if (isRunning(m[1]!)) live.add(m[1]!);
      else locks.push(name);
    }
    for (const name of names) {
      const m = FILE_RE.exec(name);
      if (m === null || m[1] === this.instance || live.has(m[1]!)) continue;
      const seq = this.nextSeq++;
      const path = segmentPath(this.dir, this.instance, seq);
      try {
        await rename(join(this.dir, name), path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // claimed by another process
        throw err;
      }
      const [{ size }, text] = await Promise.all([stat(path), readFile(path, 'utf8')]);
      this.files.push({ path, seq, events: countLines(text), bytes: size });
    }
    // Owners that are gone no longer need their locks.
    for (const name of locks) await unlink(join(this.dir, name)).catch(() => undefined);
  }

  /**
   * Last resort after close() (e.g. a call that finished during shutdown): one file of its own,
   * appended synchronously. Only the first write is fsync'd: an fsync per call would stall the
   * caller for milliseconds each time. Later writes survive the process exiting (they are in
   * the kernel), not a power cut.
   */
  private appendAfterClose(text: string, events: number): void {
    try {
      if (this.afterClosePath === null) {
        mkdirSync(this.dir, { recursive: true });
        this.afterClosePath = segmentPath(this.dir, this.instance, this.nextSeq++);
        const fd = openSync(this.afterClosePath, 'a');
        try {
          writeSync(fd, text);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      } else {
        appendFileSync(this.afterClosePath, text);
      }
    } catch (err) {
      this.dropped += events;
      this.onError(err as Error);
    }
  }
}
