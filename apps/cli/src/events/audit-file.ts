import { closeSync, existsSync, fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { type AuditEvent, CHAIN_SPEC, chainHash, GENESIS_HASH, storableJson } from '@toolgate/contracts';

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

  constructor(
    readonly file: string,
    orgId: string,
    org: string,
  ) {
    const fresh = !existsSync(file) || readFileSync(file).length === 0;
    if (!fresh) this.readHead();
    this.fd = openSync(file, 'a', 0o600);
    if (fresh) this.writeLines([JSON.stringify(auditFileHeader(orgId, org))]);
  }

  /** Chain and write the events, then flush them to the device. */
  append(events: readonly AuditEvent[]): void {
    const lines: string[] = [];
    const receivedAt = new Date().toISOString();
    for (const event of events) {
      const payload = storableJson(event) as unknown as Record<string, unknown>;
      const prevHash = this.head;
      const hash = chainHash(prevHash, payload);
      this.seq++;
      lines.push(JSON.stringify({ type: 'event', seq: this.seq, id: event.id, prevHash, hash, receivedAt, payload }));
      this.head = hash;
    }
    this.writeLines(lines);
  }

  get headSeq(): number {
    return this.seq;
  }

  close(): void {
    closeSync(this.fd);
  }

  private writeLines(lines: readonly string[]): void {
    if (lines.length === 0) return;
    writeSync(this.fd, `${lines.join('\n')}\n`);
    fdatasyncSync(this.fd);
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
