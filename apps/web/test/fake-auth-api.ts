import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the API's POST /v1/auth/refresh for the proxy's unit tests: answers with the
 * queued behaviours in turn (an HTTP status, `drop` to cut the connection, `hang` to never
 * answer) and points TOOLGATE_API_URL at itself while running.
 */
export type Answer = number | 'drop' | 'hang';

export function fakeAuthApi() {
  const answers: Answer[] = [];
  const bodies: unknown[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      bodies.push(JSON.parse(body || 'null'));
      const answer = answers.shift() ?? 500;
      if (answer === 'drop') return req.socket.destroy();
      if (answer === 'hang') return;
      const n = bodies.length;
      res.writeHead(answer, { 'content-type': 'application/json' });
      res.end(
        answer === 200
          ? JSON.stringify({ accessToken: `at${n}`, refreshToken: `rt${n}`, expiresIn: 900, refreshExpiresAt: '2030-01-01T00:00:00.000Z' })
          : JSON.stringify({ status: answer }),
      );
    });
  });
  const saved = process.env.TOOLGATE_API_URL;
  return {
    answers,
    /** The refresh tokens received, in order. */
    received: () => bodies.map((b) => (b as { refreshToken?: string } | null)?.refreshToken),
    start: () =>
      new Promise<void>((resolve) =>
        server.listen(0, '127.0.0.1', () => {
          process.env.TOOLGATE_API_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
          resolve();
        }),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        process.env.TOOLGATE_API_URL = saved;
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A JWT-shaped token expiring `inSeconds` from now (the proxy reads only `exp`). */
export function jwtExpiringIn(inSeconds: number): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'x', exp: Math.floor(Date.now() / 1000) + inSeconds })}.c2ln`;
}
