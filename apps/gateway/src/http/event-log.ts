import { redisKeys } from '@toolgate/contracts';
import type Redis from 'ioredis';
import type { StreamEventLog } from '../core/ports';

/**
 * What a recorded event belongs to: a call's answer stream (`call`, its response `final`) or the
 * session's GET stream (`get`). A resumed call stream ends after `final`; a GET stream goes live.
 */
export type EventKind = 'call' | 'final' | 'get';

export interface RecordedEvent {
  seq: number;
  kind: EventKind;
  /** The JSON-RPC message as it went out (the `data:` line). */
  data: string;
}

/** Records one stream's events; `final` marks a call stream's response. */
export type Recorder = (seq: number, data: string, final: boolean) => void;

export interface EventLogOptions {
  /** Events kept per stream; older ones are dropped. */
  maxEvents: number;
  /** A stream's events expire this long after its last event. */
  ttlMs: number;
}

/**
 * The recent events of a session's SSE streams, in Redis so that a GET with Last-Event-ID on any
 * worker can replay them. Streams are keyed by session id as well as stream id: a Last-Event-ID
 * naming another session's stream finds nothing.
 */
export class SseEventLog implements StreamEventLog {
  constructor(
    private readonly redis: Redis,
    private readonly opts: EventLogOptions,
  ) {}

  /**
   * A recorder for one stream. Events of the same turn of the event loop (a response and the
   * notifications before it, a burst of progress) leave in one MULTI, one round trip, never
   * awaited: a Redis failure costs resumability, not the live stream.
   */
  recorder(sessionId: string, streamId: string, kind: 'call' | 'get'): Recorder {
    const key = redisKeys.sseEvents(sessionId, streamId);
    let pending: string[] = [];
    const flush = () => {
      const entries = pending;
      pending = [];
      this.redis
        .multi()
        .rpush(key, ...entries)
        .ltrim(key, -this.opts.maxEvents, -1)
        .pexpire(key, this.opts.ttlMs)
        .exec()
        .catch(() => undefined);
    };
    return (seq, data, final) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push(`${seq} ${final ? 'final' : kind} ${data}`);
    };
  }

  /** The stream's retained events, oldest first; none when it is unknown, expired or another session's. */
  async read(sessionId: string, streamId: string): Promise<RecordedEvent[]> {
    const raw = await this.redis.lrange(redisKeys.sseEvents(sessionId, streamId), 0, -1);
    return raw.map(parseEntry);
  }
}

function parseEntry(entry: string): RecordedEvent {
  const a = entry.indexOf(' ');
  const b = entry.indexOf(' ', a + 1);
  return { seq: Number(entry.slice(0, a)), kind: entry.slice(a + 1, b) as EventKind, data: entry.slice(b + 1) };
}

/** `<streamId>:<seq>` as SseStream writes it, or null for anything else. */
export function parseEventId(id: string): { streamId: string; seq: number } | null {
  const m = /^([A-Za-z0-9_-]{1,64}):(\d{1,15})$/.exec(id);
  return m ? { streamId: m[1]!, seq: Number(m[2]) } : null;
}
