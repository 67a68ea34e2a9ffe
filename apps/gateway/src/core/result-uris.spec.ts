import { splitUri } from './naming';
import { exposeResultUris } from './result-uris';

describe('exposeResultUris', () => {
  it('rewrites resources/read contents', () => {
    const out = exposeResultUris('fs', { contents: [{ uri: 'file:///a.txt', text: 'a' }, { blob: 'AA==' }] });
    expect(out.contents).toEqual([{ uri: 'tg://fs/file:///a.txt', text: 'a' }, { blob: 'AA==' }]);
  });

  it('rewrites resource links and embedded resources in tool content, and nothing else', () => {
    const result = {
      content: [
        { type: 'text', text: 'see file:///a.txt', uri: 'file:///not-a-link' },
        { type: 'resource_link', uri: 'file:///a.txt', name: 'a' },
        { type: 'resource', resource: { uri: 'file:///b.txt', text: 'b' } },
      ],
      structuredContent: { uri: 'file:///c.txt' },
      isError: false,
    };
    const out = exposeResultUris('fs', result);
    expect(out).toEqual({
      content: [
        { type: 'text', text: 'see file:///a.txt', uri: 'file:///not-a-link' },
        { type: 'resource_link', uri: 'tg://fs/file:///a.txt', name: 'a' },
        { type: 'resource', resource: { uri: 'tg://fs/file:///b.txt', text: 'b' } },
      ],
      structuredContent: { uri: 'file:///c.txt' },
      isError: false,
    });
    // The upstream's result is shared (redactor output may be cached): never changed in place.
    expect(result.content[1]).toEqual({ type: 'resource_link', uri: 'file:///a.txt', name: 'a' });
  });

  it('rewrites prompt messages holding one block or an array of blocks', () => {
    const out = exposeResultUris('fs', {
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: 'file:///a.txt', text: 'a' } } },
        { role: 'user', content: [{ type: 'resource_link', uri: 'file:///b.txt', name: 'b' }] },
        { role: 'assistant', content: { type: 'text', text: 'hi' } },
      ],
    });
    expect(out.messages).toEqual([
      { role: 'user', content: { type: 'resource', resource: { uri: 'tg://fs/file:///a.txt', text: 'a' } } },
      { role: 'user', content: [{ type: 'resource_link', uri: 'tg://fs/file:///b.txt', name: 'b' }] },
      { role: 'assistant', content: { type: 'text', text: 'hi' } },
    ]);
  });

  it('round-trips: an exposed URI splits back into the server and the upstream URI', () => {
    const out = exposeResultUris('fs', { content: [{ type: 'resource_link', uri: 'demo://x/tg://y', name: 'n' }] });
    const link = (out.content as Array<{ uri: string }>)[0]!;
    expect(splitUri(link.uri)).toEqual({ server: 'fs', uri: 'demo://x/tg://y' });
  });

  it('leaves malformed shapes from a hostile upstream alone instead of failing', () => {
    const odd = {
      contents: [null, 7, { uri: 42 }, ['x']],
      content: [null, 'text', { type: 'resource_link' }, { type: 'resource', resource: 'file:///a' }, { type: 'resource' }],
      messages: [null, { role: 'user' }, { role: 'user', content: null }, { role: 'user', content: [null, 1] }],
    };
    expect(exposeResultUris('fs', odd)).toEqual(odd);
    expect(exposeResultUris('fs', { contents: 'nope', content: {}, messages: 3 })).toEqual({ contents: 'nope', content: {}, messages: 3 });
  });
});
