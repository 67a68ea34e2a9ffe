import { closeSync, existsSync, fdatasync, fdatasyncSync, openSync, readFileSync, write, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { type AuditEvent, CHAIN_SPEC, chainHash, GENESIS_HASH, storableJson } from '@toolgate/contracts';

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

/**
 * When a group counts as written (the platform gateway's EVENT_LOG_FLUSH): `disk` once the device
 * has it (survives a power cut), `os` once the kernel has it (survives any crash of the gateway
 * process; synced to the device every second off the answers' path).
 */
export type AuditFlush = 'disk' | 'os';
const OS_SYNC_INTERVAL_MS = 1000;

/** The first line of a local audit file: what it is and how to verify it (as a platform export's header). */
export function auditFileHeader(orgId: string, org: string): Record<string, unknown> {
  return {
    type: 'header',
    format: 'toolgate-audit-file',
    version: 1,
    orgId,
    org,
    createdAt: new Date().toISOString(),
    chain: CHAIN_SPEC,
    verification:
      "For each event line in order: hash must equal sha256(prevHash + canonicalJson(payload)); each prevHash must equal the previous line's hash; seq must increase by 1 from 1. `toolgate audit verify FILE` checks it.",
  };
}

/**
 * The standalone gateway's audit chain: an append-only NDJSON file whose event lines are those
 * of a platform export (`{type:"event", seq, id, prevHash, hash, receivedAt, payload}`), chained
 * by the platform's own rule (contracts' chainHash over the stored payload). One writer: the
 * gateway process. On open the chain's head is read back from the file, so a restart continues it.
 */
export class AuditFile {
  private fd: number;
  private seq = 0;
  private head = GENESIS_HASH;
  private unsynced = false;
  private readonly syncTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly file: string,
    orgId: string,
    org: string,
    private readonly flush: AuditFlush = 'disk',
  ) {
    const fresh = !existsSync(file) || readFileSync(file).length === 0;
    if (!fresh) this.readHead();
    this.fd = openSync(file, 'a', 0o600);
    if (fresh) {
      writeSync(this.fd, `${JSON.stringify(auditFileHeader(orgId, org))}\n`);
      fdatasyncSync(this.fd);
    }
    if (flush === 'os') {
      this.syncTimer = setInterval(() => void this.syncNow(), OS_SYNC_INTERVAL_MS);
      this.syncTimer.unref();
    }
  }

  /**
   * Chains the events after the file's head and writes them (flushed to the device in `disk`
   * mode) off the event loop. One append at a time: the caller waits for one before the next.
   * The head moves only once the lines are written, so a refused write leaves no gap in the chain.
   */
  async append(events: readonly AuditEvent[]): Promise<void> {
    const { text, seq, head } = this.chain(events);
    if (!text) return;
    await this.writeAll(Buffer.from(text));
    // Written lines are in the file whatever the flush does next: the chain continues after them.
    this.seq = seq;
    this.head = head;
    if (this.flush === 'disk') await fdatasyncAsync(this.fd);
    else this.unsynced = true;
  }

  /** The same, blocking: for the events still pending when the gateway stops. */
  appendSync(events: readonly AuditEvent[]): void {
    const { text, seq, head } = this.chain(events);
    if (!text) return;
    writeSync(this.fd, text);
    this.seq = seq;
    this.head = head;
    fdatasyncSync(this.fd);
  }

  private chain(events: readonly AuditEvent[]): { text: string; seq: number; head: string } {
    const lines: string[] = [];
    const receivedAt = new Date().toISOString();
    let seq = this.seq;
    let head = this.head;
    for (const event of events) {
      const payload = storableJson(event) as unknown as Record<string, unknown>;
      const hash = chainHash(head, payload);
      seq++;
      lines.push(JSON.stringify({ type: 'event', seq, id: event.id, prevHash: head, hash, receivedAt, payload }));
      head = hash;
    }
    return { text: lines.length ? `${lines.join('\n')}\n` : '', seq, head };
  }

  private async writeAll(data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) done += (await writeAsync(this.fd, data, done, data.length - done)).bytesWritten;
  }

  private async syncNow(): Promise<void> {
    if (!this.unsynced) return;
    this.unsynced = false;
    try {
      await fdatasyncAsync(this.fd);
    } catch {
      this.unsynced = true;
    }
  }

  get headSeq(): number {
    return this.seq;
  }

  close(): void {
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.unsynced) fdatasyncSync(this.fd);
    closeSync(this.fd);
  }

  /** The last event line's seq and hash: the chain continues from there. */
  private readHead(): void {
    const lines = readFileSync(this.file, 'utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!.trim();
      if (!line) continue;
      let rec: { type?: string; seq?: number; hash?: string };
      try {
        rec = JSON.parse(line);
      } catch {
        throw new Error(
          `${this.file}:${i + 1}: the audit file's last line is not JSON; run \`toolgate audit verify\` and move the file aside`,
        );
      }
      if (rec.type !== 'event') continue;
      this.seq = Number(rec.seq);
      this.head = String(rec.hash);
      return;
    }
  }
}
