import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TinyDisk, tinyDisk } from '../../test/fixtures/tiny-disk';
import { Wal, type WalFlush, type WalSegment, WalUnavailable } from './wal';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const line = (n: number) => `{"q":"tg-audit","e":{"n":${n}}}\n`;

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** FileHandle's prototype (node's, not ours): to count and to slow down writes. */
async function fileHandleProto(dir: string): Promise<{ write: (...args: unknown[]) => Promise<unknown> }> {
  const h = await open(join(dir, 'probe'), 'w');
  await h.close();
  rmSync(join(dir, 'probe'));
  return Object.getPrototypeOf(h);
}

describe('Wal', () => {
  let dir: string;
  const wals: Wal<number>[] = [];
  const durable: Array<{ items: number[]; segment: WalSegment }> = [];
  const make = (opts: { commitTimeoutMs?: number; retryMs?: number; dir?: string; flush?: WalFlush } = {}) => {
    const errors: Error[] = [];
    const wal = new Wal<number>({
      flush: opts.flush,
      dir: opts.dir ?? dir,
      commitTimeoutMs: opts.commitTimeoutMs,
      retryMs: opts.retryMs ?? 100,
      onDurable: (items, segment) => durable.push({ items, segment }),
      onError: (e) => errors.push(e),
    });
    wals.push(wal);
    return { wal, errors };
  };
  const segments = (d = dir) => readdirSync(d).filter((n) => n.endsWith('.wal.ndjson'));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tg-wal-'));
    durable.length = 0;
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(wals.splice(0).map((w) => w.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('group commit: the appends of one turn share one (synchronous) write and one promise; the next group goes out on the other lane meanwhile', async () => {
    const write = jest.spyOn(await fileHandleProto(dir), 'write');
    const { wal } = make();
    await wal.open();
    const first = Array.from({ length: 500 }, (_, i) => wal.append(line(i), i));
    expect(new Set(first).size).toBe(1);
    // Arrives while the first group is on its way: forms the second group.
    await new Promise((r) => setImmediate(r));
    const second = Array.from({ length: 10 }, (_, i) => wal.append(line(500 + i), 500 + i));
    expect(new Set(second).size).toBe(1);
    expect(second[0]).not.toBe(first[0]);
    await Promise.all([...first, ...second]);
    expect(write).toHaveBeenCalledTimes(2);
    expect(durable.map((d) => d.items.length).sort((x, y) => x - y)).toEqual([10, 500]);
    expect(new Set(durable.map((d) => d.segment.path)).size).toBe(2); // one segment per lane
    const files = segments().map((n) => readFileSync(join(dir, n), 'utf8').trim().split('\n'));
    expect(files.map((f) => f.length).sort((x, y) => x - y)).toEqual([10, 500]);
    expect(files.flat().sort()).toEqual(Array.from({ length: 510 }, (_, i) => line(i).trim()).sort());
  });

  it('retires: a segment is deleted once every call in it was delivered; what is not retired stays for the next process', async () => {
    const { wal } = make();
    await wal.open();
    await Promise.all([wal.append(line(1), 1), wal.append(line(2), 2)]);
    expect(segments()).toHaveLength(1);
    const { segment } = durable[0]!;
    wal.retire(segment);
    expect(segments()).toHaveLength(1); // one call still undelivered
    wal.retire(segment);
    await until(() => segments().length === 0);
    // Not retired: close() leaves it (and drops the lock), so the next spool claims it.
    await wal.append(line(3), 3);
    await wal.close();
    expect(segments()).toHaveLength(1);
    expect(readdirSync(dir).filter((n) => n.endsWith('.lock'))).toEqual([]);
  });

  it('a slow disk: a group not on disk in time is refused, calls are refused while the write hangs, and its bytes are removed once it lands', async () => {
    const proto = await fileHandleProto(dir);
    const real = proto.write;
    let stall = 0;
    jest.spyOn(proto, 'write').mockImplementation(async function (this: unknown, ...args: unknown[]) {
      if (stall > 0) await sleep(stall);
      return real.apply(this, args);
    });
    // A timeout well above a busy CI disk's fdatasync, and a stall well above the timeout.
    const { wal } = make({ commitTimeoutMs: 1000 });
    await wal.open();
    await wal.append(line(1), 1);
    const size = () => statSync(join(dir, segments()[0]!)).size;
    const before = size();
    stall = 3000;
    const slow = wal.append(line(2), 2);
    await expect(slow).rejects.toThrow(WalUnavailable);
    expect(wal.accepting).toBe(false); // the write is still on its way
    stall = 0;
    await until(() => wal.accepting);
    await wal.flush();
    expect(size()).toBe(before); // the refused call left no record
    expect(durable.flatMap((d) => d.items)).toEqual([1]);
    await wal.append(line(3), 3); // and the next one goes through
    expect(durable.flatMap((d) => d.items)).toEqual([1, 3]);
  });

  describe('on a full disk (a real 64 KiB tmpfs)', () => {
    let disk: TinyDisk;
    beforeEach(async () => {
      disk = await tinyDisk(64);
    });
    afterEach(async () => {
      await Promise.all(wals.splice(0).map((w) => w.close()));
      await disk.close();
    });

    it('refuses the group that does not fit, truncates what it wrote, refuses until a probe write succeeds', async () => {
      const { wal, errors } = make({ dir: disk.dir, retryMs: 100 });
      await wal.open();
      await wal.append(line(1), 1);
      disk.fill();
      const big = 'x'.repeat(16 * 1024); // more than any page left in the segment's last page
      const refused = wal.append(`{"q":"tg-audit","e":{"pad":"${big}"}}\n`, 2);
      await expect(refused).rejects.toThrow(/ENOSPC/);
      expect(wal.accepting).toBe(false);
      expect(errors.some((e) => /ENOSPC/.test(e.message))).toBe(true);
      // Nothing of the refused call is on disk.
      const text = segments(disk.dir)
        .map((n) => readFileSync(join(disk.dir, n), 'utf8'))
        .join('');
      expect(text).not.toContain('"pad"');
      await sleep(300);
      expect(wal.accepting).toBe(false); // probes keep failing while the disk is full
      disk.free();
      await until(() => wal.accepting);
      await wal.append(line(3), 3);
      expect(durable.flatMap((d) => d.items)).toEqual([1, 3]);
    });
  });

  it('flush: `disk` writes segments with O_DSYNC (on the device when the write returns), `os` without (in the kernel)', async () => {
    const O_DSYNC = 0o10000;
    /** The open flags of this process's descriptor of a file in `folder`, as the kernel reports them. */
    const segmentFlags = (folder: string): number => {
      for (const fd of readdirSync('/proc/self/fd')) {
        let target = '';
        try {
          target = readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          continue;
        }
        if (target.startsWith(folder) && target.endsWith('.wal.ndjson')) {
          const flags = /^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
          if (flags) return Number.parseInt(flags[1]!, 8);
        }
      }
      throw new Error(`no open segment in ${folder}`);
    };
    for (const flush of ['disk', 'os'] as const) {
      const folder = mkdtempSync(join(tmpdir(), `tg-wal-${flush}-`));
      const { wal } = make({ dir: folder, flush });
      await wal.open();
      await wal.append(line(1), 1);
      expect({ flush, dsync: (segmentFlags(folder) & O_DSYNC) !== 0 }).toEqual({ flush, dsync: flush === 'disk' });
      expect(readFileSync(join(folder, readdirSync(folder).find((f) => f.endsWith('.wal.ndjson'))!), 'utf8')).toBe(line(1));
    }
  });

  it('flush `os`: the answer does not wait for the device, but what was written reaches it within a second, and an idle log is not synced', async () => {
    const datasync = jest.spyOn((await fileHandleProto(dir)) as unknown as { datasync: () => Promise<void> }, 'datasync');
    const { wal } = make({ flush: 'os' });
    await wal.open();
    await wal.append(line(1), 1);
    expect(datasync).not.toHaveBeenCalled();
    await until(() => datasync.mock.calls.length === 1, 2500);
    await sleep(1200);
    expect(datasync).toHaveBeenCalledTimes(1); // nothing written since
    await wal.append(line(2), 2);
    await until(() => datasync.mock.calls.length === 2, 2500);
    datasync.mockRestore();
  });
});
