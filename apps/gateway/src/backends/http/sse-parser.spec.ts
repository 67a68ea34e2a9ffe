import { type SseEvent, SseParser } from './sse-parser';

function parse(chunks: Array<string | Buffer>): { events: SseEvent[]; parser: SseParser; retries: number[] } {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const parser = new SseParser(
    (e) => events.push(e),
    (ms) => retries.push(ms),
  );
  for (const c of chunks) parser.push(c);
  return { events, parser, retries };
}
const all = (text: string) => parse([text]).events;
const ev = (data: string, id = '', event = 'message'): SseEvent => ({ event, data, id });

describe('SseParser', () => {
  it('parses events separated by LF, CRLF and lone CR alike', () => {
    expect(all('data: a\n\ndata: b\n\n')).toEqual([ev('a'), ev('b')]);
    expect(all('data: a\r\n\r\ndata: b\r\n\r\n')).toEqual([ev('a'), ev('b')]);
    expect(all('data: a\r\rdata: b\r\r')).toEqual([ev('a'), ev('b')]);
    expect(all('data: a\r\n\ndata: b\n\r\n')).toEqual([ev('a'), ev('b')]);
  });

  it('joins multi-line data with LF and keeps empty lines of data', () => {
    expect(all('data: line 1\ndata: line 2\ndata\ndata:\ndata: end\n\n')).toEqual([ev('line 1\nline 2\n\n\nend')]);
  });

  it('dispatches an event whose only data is empty (MCP priming events) and skips events without data', () => {
    expect(all('id: 7\ndata: \n\n')).toEqual([ev('', '7')]);
    const { events, parser } = parse(['id: 9\nevent: nothing\n\n']);
    expect(events).toEqual([]);
    expect(parser.lastEventId).toBe('9');
    // The event type does not leak into the next event.
    expect(all('event: x\n\ndata: y\n\n')).toEqual([ev('y')]);
  });

  it('ignores comments and unknown fields', () => {
    expect(all(': keep-alive\n:\nfoo: bar\ndata: a\n: mid-event comment\ndata: b\n\n')).toEqual([ev('a\nb')]);
    expect(all(': only a comment\n\n')).toEqual([]);
  });

  it('handles event types, ids that persist, NUL in ids, and the space after the colon', () => {
    expect(all('event: endpoint\ndata: /messages?x=1\n\n')).toEqual([ev('/messages?x=1', '', 'endpoint')]);
    expect(all('id: 1\ndata: a\n\ndata: b\n\nid: bad\0id\ndata: c\n\nid\ndata: d\n\n')).toEqual([
      ev('a', '1'),
      ev('b', '1'),
      ev('c', '1'),
      ev('d', ''),
    ]);
    expect(all('data:no-space\n\ndata:  two spaces\n\n')).toEqual([ev('no-space'), ev(' two spaces')]);
    expect(all('data: a:b: c\n\n')).toEqual([ev('a:b: c')]);
  });

  it('takes retry only when it is all digits', () => {
    const { parser, retries, events } = parse(['retry: 1500\nretry: 12a\nretry: -5\nretry:\ndata: x\n\n']);
    expect(parser.retryMs).toBe(1500);
    expect(retries).toEqual([1500]);
    expect(events).toEqual([ev('x')]);
  });

  it('strips one leading BOM only', () => {
    expect(all('\uFEFFdata: a\n\n')).toEqual([ev('a')]);
    expect(parse(['\uFEFF', 'data: a\n\n']).events).toEqual([ev('a')]);
    // A BOM anywhere else is a field-name character, so the line is an unknown field.
    expect(all('data: a\n\n\uFEFFdata: b\n\n')).toEqual([ev('a')]);
  });

  it('keeps a CRLF split across chunks as one line break', () => {
    expect(parse(['data: a\r', '\n\r', '\n']).events).toEqual([ev('a')]);
    expect(parse(['data: a\r', '\r', 'data: b\r', '\n', '\r\n']).events).toEqual([ev('a'), ev('b')]);
  });

  it('decodes UTF-8 split anywhere, including inside a character', () => {
    const bytes = Buffer.from('data: héllo 🌍 wörld\n\n', 'utf8');
    const { events } = parse([...bytes].map((b) => Buffer.from([b])));
    expect(events).toEqual([ev('héllo 🌍 wörld')]);
  });

  it('gives the same events whatever the chunk boundaries (fuzzed against a reference)', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const endings = ['\n', '\r\n', '\r'];
    for (let round = 0; round < 200; round++) {
      const expected: SseEvent[] = [];
      let wire = rand(2) ? '\uFEFF' : '';
      let lastId = '';
      let previous = '';
      // A lone CR followed by a line ending that starts with LF would read as one CRLF.
      const eol = () => {
        const e = previous === '\r' ? endings[1 + rand(2)].replace('\r\n', '\r') : endings[rand(3)];
        previous = e;
        return e;
      };
      const count = 1 + rand(6);
      for (let i = 0; i < count; i++) {
        const lines = Array.from({ length: 1 + rand(3) }, () => JSON.stringify({ n: rand(1000), s: 'ü'.repeat(rand(4)) }));
        if (rand(3) === 0) wire += `: comment ${i}${eol()}`;
        if (rand(2)) {
          lastId = `id-${round}-${i}`;
          wire += `id: ${lastId}${eol()}`;
        }
        const type = rand(2) ? 'message' : 'custom';
        if (type === 'custom') wire += `event: custom${eol()}`;
        for (const l of lines) wire += `data: ${l}${eol()}`;
        wire += eol();
        expected.push({ event: type, data: lines.join('\n'), id: lastId });
      }
      const bytes = Buffer.from(wire, 'utf8');
      const chunks: Buffer[] = [];
      for (let pos = 0; pos < bytes.length; ) {
        const size = 1 + rand(12);
        chunks.push(bytes.subarray(pos, pos + size));
        pos += size;
      }
      expect(parse(chunks).events).toEqual(expected);
    }
  });

  it('discards an incomplete event at the end and starts clean after end(), keeping the last id', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser((e) => events.push(e));
    parser.push('id: 5\ndata: complete\n\ndata: partial');
    expect(parser.buffered).toBeGreaterThan(0);
    parser.end();
    expect(parser.buffered).toBe(0);
    parser.push('\uFEFFdata: next\n\n');
    expect(events).toEqual([ev('complete', '5'), ev('next', '5')]);
    expect(parser.lastEventId).toBe('5');
  });

  it('stops at once when onEvent ends the parser', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser((e) => {
      events.push(e);
      parser.end();
    });
    parser.push('data: 1\n\ndata: 2\n\n');
    expect(events).toEqual([ev('1')]);
  });

  it('counts what it buffers (for callers’ size caps)', () => {
    const parser = new SseParser(() => undefined);
    parser.push('data: ' + 'x'.repeat(1000));
    expect(parser.buffered).toBe(1006);
    parser.push('\ndata: yy\n');
    expect(parser.buffered).toBe(1003); // 1000 + "\nyy"
    parser.push('\n');
    expect(parser.buffered).toBe(0);
  });
});
