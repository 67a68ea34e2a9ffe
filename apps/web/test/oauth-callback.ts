import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The app's side: its redirect URI on loopback, as native MCP clients use, recording what
 * arrives; and, at any other path set in `documents`, a JSON document (a client ID metadata
 * document).
 */
export async function callbackServer(): Promise<{
  url: string;
  origin: string;
  hits: URLSearchParams[];
  documents: Map<string, unknown>;
  close: () => Promise<void>;
}> {
  const hits: URLSearchParams[] = [];
  const documents = new Map<string, unknown>();
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const doc = documents.get(u.pathname);
    if (doc !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(doc));
    }
    if (u.pathname === '/callback') hits.push(u.searchParams);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Connected</title><p>You can close this window.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/callback`,
    origin: `http://127.0.0.1:${port}`,
    hits,
    documents,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
