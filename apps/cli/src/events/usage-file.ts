import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { UsageEvent } from '@toolgate/contracts';

/** One hour of one key's calls of one server's tool, as the platform's usage roll-up counts them. */
export interface UsageRow {
  hour: string;
  keyId: string | null;
  serverId: string | null;
  target: string | null;
  calls: number;
  errors: number;
  denied: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
}

/**
 * The standalone gateway's usage roll-up: rows per org/key/server/tool/hour, kept in memory and
 * rewritten to a JSON file (atomically, by rename) at most every `everyMs` and on close.
 */
export class UsageFile {
  private readonly rows = new Map<string, UsageRow>();
  private dirty = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly file: string,
    everyMs = 1000,
  ) {
    if (existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { rows?: UsageRow[] };
      for (const row of saved.rows ?? []) this.rows.set(rowKey(row), row);
    }
    this.timer = setInterval(() => this.save(), everyMs);
    this.timer.unref();
  }

  add(events: readonly UsageEvent[]): void {
    for (const e of events) {
      const hour = `${e.at.slice(0, 13)}:00:00Z`;
      const key = rowKey({ hour, keyId: e.keyId, serverId: e.serverId, target: e.target });
      const row = this.rows.get(key) ?? {
        hour,
        keyId: e.keyId,
        serverId: e.serverId,
        target: e.target,
        calls: 0,
        errors: 0,
        denied: 0,
        bytesIn: 0,
        bytesOut: 0,
        durationMs: 0,
      };
      row.calls++;
      if (e.decision !== 'allow') row.denied++;
      else if (e.outcome !== 'ok') row.errors++;
      row.bytesIn += e.bytesIn;
      row.bytesOut += e.bytesOut;
      row.durationMs += e.durationMs;
      this.rows.set(key, row);
      this.dirty = true;
    }
  }

  list(): UsageRow[] {
    return [...this.rows.values()];
  }

  save(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ format: 'toolgate-usage', version: 1, rows: this.list() }, null, 1)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  close(): void {
    clearInterval(this.timer);
    this.save();
  }
}

function rowKey(r: Pick<UsageRow, 'hour' | 'keyId' | 'serverId' | 'target'>): string {
  return JSON.stringify([r.hour, r.keyId, r.serverId, r.target]);
}
