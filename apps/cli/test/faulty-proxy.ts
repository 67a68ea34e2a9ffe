import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A loopback proxy in front of the real API that misbehaves the way networks and proxies do:
 * `cut-export` relays an audit export until its header line and then drops the connection;
 * `bad-gateway` answers every request with a proxy's HTML error page.
 */
export async function startFaultyProxy(
  apiPort: number,
  mode: 'cut-export' | 'bad-gateway',
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (mode === 'bad-gateway') {
      client.once('data', () => {
        const body = '<html><body>502 Bad Gateway</body></html>';
        client.end(
          `HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        );
      });
      return;
    }
    const upstream = createConnection(apiPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => undefined);
    client.pipe(upstream);
    let seen = '';
    upstream.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      const header = seen.indexOf('toolgate-audit-export');
      if (header === -1) {
        client.write(chunk);
        return;
      }
      // Everything up to the end of the header line, then the connection is gone.
      const cut = seen.indexOf('\n', header);
      const keep = cut === -1 ? chunk.length : chunk.length - (seen.length - cut - 1);
      client.write(chunk.subarray(0, Math.max(0, keep)), () => {
        client.destroy();
        upstream.destroy();
      });
    });
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
