import type { AuditEvent, UsageEvent } from '@toolgate/contracts';
import type { EventSink } from '@toolgate/gateway/src/core/ports';
import type { AuditFile } from './audit-file';
import type { UsageFile } from './usage-file';

const RETRY_AFTER_MS = 1000;

/**
 * The standalone gateway's EventSink: the events of calls finishing together are written in one
 * group (one device flush) on the next turn of the event loop; durable() resolves once the
 * latest emit is on disk, which is what a call's answer waits for, as with the platform's WAL.
 * While the disk refuses, calls are refused before they run (accepting is false).
 */
export class FileEventSink implements EventSink {
  private audit: AuditEvent[] = [];
  private usage: UsageEvent[] = [];
  private flushing: Promise<void> | null = null;
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
    this.audit.push(audit);
    this.usage.push(usage);
    if (this.flushing) return;
    this.flushing = new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        this.flushing = null;
        try {
          this.flush();
          resolve();
        } catch (e) {
          reject(e);
        }
      }),
    );
    // An emit nobody waits on (a refused authentication) must not become an unhandled rejection.
    this.flushing.catch(() => undefined);
  }

  durable(): Promise<void> {
    return this.flushing ?? (this.failed ? Promise.reject(this.failed) : Promise.resolve());
  }

  /** Writes what is pending (also on shutdown). */
  flush(): void {
    const audit = this.audit;
    const usage = this.usage;
    this.audit = [];
    this.usage = [];
    try {
      this.auditFile.append(audit);
      this.failed = null;
    } catch (e) {
      this.failed = e as Error;
      this.failedAt = Date.now();
      this.onError(this.failed);
      throw this.failed;
    }
    this.usageFile.add(usage);
  }

  close(): void {
    if (this.audit.length > 0) this.flush();
    this.auditFile.close();
    this.usageFile.close();
  }
}
