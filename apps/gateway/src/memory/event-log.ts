import type { StreamEventLog } from '../core/ports';
import type { EventLogOptions, RecordedEvent, Recorder } from '../http/event-log';

/**
 * The recent events of each SSE stream, in process memory (the Redis one is http/event-log.ts):
 * the last `maxEvents` per stream, dropped `ttlMs` after the stream's last event.
 */
export class MemoryEventLog implements StreamEventLog {
  private readonly streams = new Map<string, { events: RecordedEvent[]; timer?: NodeJS.Timeout }>();

  constructor(private readonly opts: EventLogOptions) {}

  recorder(sessionId: string, streamId: string, kind: 'call' | 'get'): Recorder {
    const key = `${sessionId}\u0000${streamId}`;
    return (seq, data, final) => {
      const entry = this.streams.get(key) ?? { events: [] };
      clearTimeout(entry.timer);
      entry.events.push({ seq, kind: final ? 'final' : kind, data });
      if (entry.events.length > this.opts.maxEvents) entry.events.splice(0, entry.events.length - this.opts.maxEvents);
      entry.timer = setTimeout(() => this.streams.delete(key), this.opts.ttlMs);
      entry.timer.unref();
      this.streams.set(key, entry);
    };
  }

  async read(sessionId: string, streamId: string): Promise<RecordedEvent[]> {
    return [...(this.streams.get(`${sessionId}\u0000${streamId}`)?.events ?? [])];
  }
}
