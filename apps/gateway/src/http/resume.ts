import type { ServerResponse } from 'node:http';
import { RpcCode } from '../core/jsonrpc';
import type { StreamEventLog } from '../core/ports';
import type { RecordedEvent } from './event-log';
import { parseEventId } from './event-log';
import { SseStream } from './sse';
import { sendRpcError } from './util';

/**
 * How often a resumed call stream looks for the call's next events. The call keeps running on
 * the worker that took the POST (maybe another one) and records there; only resumed streams
 * poll, so the hot path pays nothing for it.
 */
const POLL_MS = 100;

export interface ResumeTarget {
  res: ServerResponse;
  sessionId: string;
  lastEventId: string;
  headers: Record<string, string>;
  keepAliveMs: number;
  /** The resumed stream is the session's GET stream: hand it over to carry live notifications. */
  goLive(stream: SseStream): void;
}

/**
 * A GET with Last-Event-ID (Streamable HTTP, 2025-11-25): replay the named stream's events after
 * that id, then continue it: a GET stream goes live again under its own id, a call's stream
 * follows the call until its response. `malformed` and `unknown` (expired, trimmed away, or
 * another session's) have written nothing; the caller answers.
 */
export async function resumeStream(log: StreamEventLog, t: ResumeTarget): Promise<'resumed' | 'malformed' | 'unknown'> {
  const at = parseEventId(t.lastEventId);
  if (!at) return 'malformed';
  const events = await log.read(t.sessionId, at.streamId);
  const last = events[events.length - 1];
  if (!last) return 'unknown';
  const isGet = last.kind === 'get';
  // The same stream id, so a second drop resumes from the right place; a GET stream records its
  // live events under it as before, a call's stream is only ever written by replay.
  const stream = new SseStream(t.res, t.headers, {
    keepAliveMs: t.keepAliveMs,
    resume: { streamId: at.streamId, nextSeq: last.seq + 1 },
    ...(isGet ? { record: (id: string) => log.recorder(t.sessionId, id, 'get') } : {}),
  });
  // Events older than the retained ones are gone: the rest (with the response) still helps.
  const sent = replay(stream, events, at.seq);
  if (isGet) t.goLive(stream);
  else void follow(log, t.sessionId, at.streamId, stream, sent);
  return 'resumed';
}

/**
 * Resume the stream a GET's Last-Event-ID names, answering what cannot be resumed: true when the
 * request is answered (resumed, a malformed id, or the event store unavailable); false when the id
 * names none of this session's streams (expired, or another session's): the agent then gets a
 * fresh GET stream, as the SDK's own server does.
 */
export async function resumeOrRefuse(log: StreamEventLog, t: ResumeTarget): Promise<boolean> {
  let outcome: Awaited<ReturnType<typeof resumeStream>>;
  try {
    outcome = await resumeStream(log, t);
  } catch {
    sendRpcError(
      t.res,
      503,
      null,
      { code: RpcCode.InternalError, message: 'Event store unavailable; retry shortly' },
      { 'Retry-After': '1' },
    );
    return true;
  }
  if (outcome === 'malformed') {
    sendRpcError(t.res, 400, null, { code: RpcCode.InvalidRequest, message: 'Last-Event-ID is not an event id of this server' });
    return true;
  }
  return outcome === 'resumed';
}

/** Write the events after `after`; returns the last seq written (or `after`), ending the stream at a call's response. */
function replay(stream: SseStream, events: RecordedEvent[], after: number): number {
  let sent = after;
  for (const e of events) {
    if (e.seq <= sent) continue;
    // An empty last event marks a call that was cancelled: nothing to write, only the end.
    if (e.kind !== 'final' || e.data !== '') stream.replay(e.seq, e.data);
    sent = e.seq;
    if (e.kind === 'final') {
      stream.end();
      break;
    }
  }
  return sent;
}

/** Poll a call's recorded events until its response is out, the agent leaves, or the record expires. */
async function follow(log: StreamEventLog, sessionId: string, streamId: string, stream: SseStream, sent: number): Promise<void> {
  while (!stream.closed) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (stream.closed) return;
    let events: RecordedEvent[];
    try {
      events = await log.read(sessionId, streamId);
    } catch {
      continue;
    }
    // Expired (the call outlived its record): end, so the agent is not left waiting on a dead stream.
    if (events.length === 0) {
      stream.end();
      return;
    }
    sent = replay(stream, events, sent);
  }
}
