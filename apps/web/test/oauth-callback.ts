import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The app's redirect URI: a loopback server, as native MCP clients use, recording what arrives. */
export async function callbackServer(): Promise<{ url: string; hits: URLSearchParams[]; close: () => Promise<void> }> {
  const hits: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (u.pathname === '/callback') hits.push(u.searchParams);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Connected</title><p>You can close this window.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callback`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
