import { StringDecoder } from 'node:string_decoder';

/**
 * Incremental `text/event-stream` parser (WHATWG HTML "server-sent events", §9.2.6), for the
 * gateway's upstream connections. It runs for every byte an upstream streams to us, so it is
 * written for the hot path: one string scan per chunk, no regular expressions, no per-line
 * arrays, and UTF-8 decoding that is safe when a multi-byte character is split across chunks.
 *
 * What it handles: LF, CRLF and lone CR line endings (a CRLF split across two chunks counts
 * once), a leading BOM, multi-line `data:` (joined with "\n"), comments (`:` lines, used as
 * keep-alives), `event:`, `id:` (ignored when it contains NUL, per spec), `retry:` (digits only),
 * fields without a colon, and the single optional space after the colon. An event is dispatched
 * on a blank line; one left incomplete when the stream ends is discarded, as the spec says.
 */

export interface SseEvent {
  /** The `event:` field, or "message" when the event named none. */
  event: string;
  /** The `data:` lines joined with "\n". May be "" (e.g. an MCP resumption "priming" event). */
  data: string;
  /** The last event id in force when this event was dispatched ("" when none was ever set). */
  id: string;
}

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

export class SseParser {
  /** Last event id seen (the value to send as `Last-Event-ID` when reconnecting). */
  lastEventId = '';
  /** The reconnection delay the server asked for with `retry:`, if any. */
  retryMs: number | undefined;

  private readonly decoder = new StringDecoder('utf8');
  /** Text of an incomplete line carried over from the previous chunk. */
  private pending = '';
  /** The previous chunk ended in CR: a LF at the start of the next one belongs to it. */
  private skipLeadingLf = false;
  private sawFirstChunk = false;
  private data = '';
  private hasData = false;
  private eventType = '';
  /** Bumped by end(): a push() interrupted by an end() from inside onEvent stops there. */
  private epoch = 0;

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    private readonly onRetry?: (ms: number) => void,
  ) {}

  /**
   * Characters held for the event being assembled (incomplete line + data so far). Callers cap
   * it to protect memory from an upstream that never ends a line or an event.
   */
  get buffered(): number {
    return this.pending.length + this.data.length;
  }

  /** Feed bytes (or already-decoded text) as they arrive, split anywhere. */
  push(chunk: Buffer | Uint8Array | string): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk as Buffer);
    if (text.length === 0) return;
    if (!this.sawFirstChunk) {
      this.sawFirstChunk = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.length === 0) return;
    }
    let pos = 0;
    if (this.skipLeadingLf) {
      this.skipLeadingLf = false;
      if (text.charCodeAt(0) === LF) pos = 1;
    }
    if (this.pending.length > 0) {
      text = this.pending + text.slice(pos);
      this.pending = '';
      pos = 0;
    }
    const len = text.length;
    const epoch = this.epoch;
    // Cached positions of the next CR and LF; each is recomputed only once passed, so a chunk
    // is scanned once for each of them however many lines it holds.
    let nextCr = text.indexOf('\r', pos);
    let nextLf = text.indexOf('\n', pos);
    while (pos < len) {
      if (nextCr !== -1 && nextCr < pos) nextCr = text.indexOf('\r', pos);
      if (nextLf !== -1 && nextLf < pos) nextLf = text.indexOf('\n', pos);
      let end: number;
      if (nextCr === -1) end = nextLf;
      else if (nextLf === -1) end = nextCr;
      else end = Math.min(nextCr, nextLf);
      if (end === -1) {
        this.pending = pos === 0 ? text : text.slice(pos);
        return;
      }
      this.line(text, pos, end);
      if (this.epoch !== epoch) return;
      if (text.charCodeAt(end) === CR) {
        if (end + 1 < len) pos = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
        else {
          this.skipLeadingLf = true;
          pos = end + 1;
        }
      } else pos = end + 1;
    }
  }

  /**
   * The stream ended: an event without its closing blank line is discarded (spec), and the
   * parser is ready for a new stream (a reconnect); lastEventId and retryMs are kept.
   */
  end(): void {
    this.epoch++;
    this.decoder.end();
    this.pending = '';
    this.skipLeadingLf = false;
    this.sawFirstChunk = false;
    this.data = '';
    this.hasData = false;
    this.eventType = '';
  }

  /** Process one line text[start, end) (without its terminator). */
  private line(text: string, start: number, end: number): void {
    if (start === end) {
      this.dispatch();
      return;
    }
    const first = text.charCodeAt(start);
    if (first === COLON) return; // comment / keep-alive
    let colon = -1;
    for (let i = start; i < end; i++) {
      if (text.charCodeAt(i) === COLON) {
        colon = i;
        break;
      }
    }
    let field: string;
    let value: string;
    if (colon === -1) {
      field = text.slice(start, end);
      value = '';
    } else {
      field = text.slice(start, colon);
      let v = colon + 1;
      if (v < end && text.charCodeAt(v) === SPACE) v++;
      value = text.slice(v, end);
    }
    switch (field) {
      case 'data':
        if (this.hasData) this.data += '\n' + value;
        else {
          this.data = value;
          this.hasData = true;
        }
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (value.indexOf('\0') === -1) this.lastEventId = value;
        break;
      case 'retry':
        if (value.length > 0 && isAllDigits(value)) {
          this.retryMs = Number(value);
          this.onRetry?.(this.retryMs);
        }
        break;
      default:
        // Unknown fields are ignored (spec).
        break;
    }
  }

  private dispatch(): void {
    if (!this.hasData) {
      // No data: nothing to dispatch; the event type is reset (the id, if any, is kept).
      this.eventType = '';
      return;
    }
    const event: SseEvent = { event: this.eventType || 'message', data: this.data, id: this.lastEventId };
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    this.onEvent(event);
  }
}

function isAllDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
