import type { AuditEvent, UsageEvent } from '@toolgate/contracts';
import type { EventSink } from '@toolgate/gateway/src/core/ports';
import type { AuditFile } from './audit-file';
import type { UsageFile } from './usage-file';

const RETRY_AFTER_MS = 1000;

interface Group {
  audit: AuditEvent[];
  usage: UsageEvent[];
  written: Promise<void>;
}

/**
 * The standalone gateway's EventSink, a group commit as the platform's WAL: the events of calls
 * finishing while the previous group is being written (and flushed to the device) form the next
 * group, written in one append once that one is done; the event loop never waits for the disk.
 * durable() resolves once the latest emit's group is on disk, which is what a call's answer waits
 * for. While the disk refuses, calls are refused before they run (accepting is false).
 */
export class FileEventSink implements EventSink {
  private next: Group | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private failed: Error | null = null;
  private failedAt = 0;

  constructor(
    private readonly auditFile: AuditFile,
    private readonly usageFile: UsageFile,
    private readonly onError: (err: Error) => void,
  ) {}

  /** False for a second after the disk refused a write; then calls are tried again (the disk may answer now). */
  get accepting(): boolean {
    return this.failed === null || Date.now() - this.failedAt >= RETRY_AFTER_MS;
  }

  emit(audit: AuditEvent, usage: UsageEvent): void {
    const group = this.next ?? this.openGroup();
    group.audit.push(audit);
    group.usage.push(usage);
  }

  durable(): Promise<void> {
    if (this.next) return this.next.written;
    return this.failed ? Promise.reject(this.failed) : this.inFlight;
  }

  /** Waits for the groups being written, then writes what is still pending, blocking (on shutdown). */
  async close(): Promise<void> {
    await this.inFlight.catch(() => undefined);
    const rest = this.next;
    this.next = null;
    if (rest && rest.audit.length > 0) {
      this.auditFile.appendSync(rest.audit);
      this.usageFile.add(rest.usage);
    }
    this.auditFile.close();
    this.usageFile.close();
  }

  /** A group starts writing on the next turn (so one turn's calls share it), after the previous group. */
  private openGroup(): Group {
    const previous = this.inFlight;
    const group: Group = { audit: [], usage: [], written: previous };
    group.written = previous
      .catch(() => undefined)
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => this.write(group));
    // An emit nobody waits on (a refused authentication) must not become an unhandled rejection.
    group.written.catch(() => undefined);
    this.next = group;
    this.inFlight = group.written;
    return group;
  }

  private async write(group: Group): Promise<void> {
    if (this.next === group) this.next = null;
    try {
      await this.auditFile.append(group.audit);
      this.failed = null;
    } catch (e) {
      this.failed = e as Error;
      this.failedAt = Date.now();
      this.onError(this.failed);
      throw this.failed;
    }
    this.usageFile.add(group.usage);
  }
}
