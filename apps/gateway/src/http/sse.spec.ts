import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SseStream } from './sse';

/** A real HTTP server whose every response is an SseStream that sends `count` messages and ends. */
async function serve(count: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    const stream = new SseStream(res, { 'Mcp-Session-Id': 's1' });
    stream.send('/messages?sessionId=s1', 'endpoint');
    for (let i = 0; i < count; i++) stream.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { i } });
    stream.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const eventIds = (text: string) => [...text.matchAll(/^id: (.*)$/gm)].map((m) => m[1]!);

describe('SseStream event ids', () => {
  it('are <streamId>:<seq>, counting up within a stream and never repeating across a session’s streams', async () => {
    const { url, server } = await serve(3);
    try {
      const [a, b] = await Promise.all([fetch(url).then((r) => r.text()), fetch(url).then((r) => r.text())]);
      const idsA = eventIds(a);
      const idsB = eventIds(b);
      expect(idsA).toHaveLength(4);
      const [streamA] = idsA[0]!.split(':');
      expect(streamA).toMatch(/^[A-Za-z0-9_-]{12}$/);
      expect(idsA).toEqual([1, 2, 3, 4].map((n) => `${streamA}:${n}`));
      expect(new Set([...idsA, ...idsB]).size).toBe(8);
    } finally {
      server.close();
    }
  });
});
