import { readFileSync } from 'node:fs';
import { chainHash, GENESIS_HASH } from '@toolgate/contracts';

export interface VerifyReport {
  valid: boolean;
  /** Event lines whose link and hash were recomputed. */
  checked: number;
  /** 1-based line of the first break, or null. */
  line: number | null;
  /** seq of the first broken event (when the line had one), or null. */
  seq: number | null;
  reason: string | null;
  /** The last event verified: the chain's head as far as it holds. */
  headSeq: number;
  headHash: string;
}

interface EventLine {
  type: 'event';
  seq: number;
  id: string;
  prevHash: string;
  hash: string;
  payload: Record<string, unknown>;
}

/**
 * Verifies an audit chain file offline: the standalone gateway's local file or a platform export
 * (same event lines; an export adds an `end` trailer, checked too). For each event in order:
 * seq is the previous one's plus 1, prevHash is the previous hash (the genesis hash at seq 1; a
 * slice's first prevHash is its anchor), hash = sha256(prevHash + canonicalJson(payload)), and the
 * payload's id is the line's. Stops at the first break and names its line.
 */
export function verifyAuditFile(file: string): VerifyReport {
  const lines = readFileSync(file, 'utf8').split('\n');
  let checked = 0;
  let prev: { seq: number; hash: string } | null = null;
  let ended = false;
  const report = (line: number | null, seq: number | null, reason: string | null): VerifyReport => ({
    valid: reason === null,
    checked,
    line,
    seq,
    reason,
    headSeq: prev?.seq ?? 0,
    headHash: prev?.hash ?? GENESIS_HASH,
  });
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.trim();
    if (text === '') continue;
    const n = i + 1;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return report(n, null, 'not a JSON line');
    }
    if (ended) return report(n, null, 'a line after the end trailer');
    if (rec.type === 'header') {
      if (checked > 0) return report(n, null, 'a header after the first event');
      continue;
    }
    if (rec.type === 'end') {
      if (rec.count !== checked) return report(n, null, `the trailer counts ${String(rec.count)} events, the file has ${checked}`);
      if (checked > 0 && rec.lastHash !== prev?.hash) return report(n, null, "the trailer's lastHash is not the last event's hash");
      ended = true;
      continue;
    }
    if (rec.type !== 'event') return report(n, null, `unknown line type ${JSON.stringify(rec.type)}`);
    const e = rec as unknown as EventLine;
    const seq = typeof e.seq === 'number' ? e.seq : null;
    if (seq === null || !Number.isInteger(seq) || seq < 1) return report(n, null, 'seq is not a positive integer');
    if (typeof e.payload !== 'object' || e.payload === null) return report(n, seq, 'the payload is missing');
    if (prev === null) {
      if (seq === 1 && e.prevHash !== GENESIS_HASH)
        return report(n, seq, 'the first event of the chain does not start at the genesis hash');
    } else {
      if (seq !== prev.seq + 1) return report(n, seq, `seq ${seq} follows ${prev.seq}: events are missing or reordered`);
      if (e.prevHash !== prev.hash) return report(n, seq, "prevHash is not the previous event's hash");
    }
    if (chainHash(e.prevHash, e.payload) !== e.hash) return report(n, seq, 'the hash does not match the payload: the event was altered');
    if (e.payload.id !== undefined && e.payload.id !== e.id) return report(n, seq, "the line's id is not the payload's");
    prev = { seq, hash: e.hash };
    checked++;
  }
  return report(null, null, null);
}
