import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ConsentRequestView } from '../../../packages/contracts/src/oauth';
import { freePort } from './stack';

/**
 * A stand-in for the parts of the API the consent page uses (login, /v1/me, the consent request
 * and its approve/deny), so the page's own branches (several orgs, verified clients, a redirect
 * that does not match, a request that expires while open) can be driven in Chromium. The real
 * flow against the real API is oauth-consent.e2e-spec.ts.
 */
export interface FakePerson {
  email: string;
  name: string;
}
export interface FakeRequest {
  /** Per email: what GET answers for that person. */
  views: Record<string, ConsentRequestView>;
  /** What approve/deny answer: a redirect, or a status for a problem. */
  outcome: (kind: 'approve' | 'deny') => { redirectTo: string } | { status: number; detail: string };
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const tokenFor = (email: string) =>
  `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: email, exp: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`;
const emailOf = (auth: string | undefined) => {
  try {
    return JSON.parse(Buffer.from((auth ?? '').replace(/^Bearer /, '').split('.')[1] ?? '', 'base64url').toString()).sub as string;
  } catch {
    return undefined;
  }
};

export function fakeOAuthApi(people: FakePerson[]) {
  const requests = new Map<string, FakeRequest>();
  const decisions: { id: string; kind: string; email: string; body: unknown }[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
    });
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? '/', 'http://x');
      const body = raw ? JSON.parse(raw) : undefined;
      if (req.method === 'POST' && url.pathname === '/v1/auth/login') {
        const person = people.find((p) => p.email === body?.email);
        if (!person) return send(401, { status: 401, code: 'invalid_credentials' });
        return send(200, {
          accessToken: tokenFor(person.email),
          refreshToken: `tgr_fake_${person.email}`,
          expiresIn: 3600,
          refreshExpiresAt: new Date(Date.now() + 86_400_000).toISOString(),
          user: { email: person.email, name: person.name },
        });
      }
      const email = emailOf(req.headers.authorization);
      const person = people.find((p) => p.email === email);
      if (!person) return send(401, { status: 401, code: 'unauthenticated' });
      if (req.method === 'GET' && url.pathname === '/v1/me') {
        return send(200, { id: email, email, name: person.name, createdAt: new Date().toISOString(), orgs: [] });
      }
      const m = /^\/v1\/oauth\/requests\/([^/]+)(?:\/(approve|deny))?$/.exec(url.pathname);
      const r = m ? requests.get(decodeURIComponent(m[1]!)) : undefined;
      if (!m || !r)
        return send(404, { status: 404, code: 'not_found', detail: 'Authorization request not found, expired or already decided' });
      if (req.method === 'GET' && !m[2]) return send(200, r.views[person.email]);
      if (req.method === 'POST' && m[2]) {
        const kind = m[2] as 'approve' | 'deny';
        decisions.push({ id: m[1]!, kind, email: person.email, body });
        const out = r.outcome(kind);
        return 'status' in out ? send(out.status, { status: out.status, detail: out.detail }) : send(200, out);
      }
      send(405, { status: 405 });
    });
  });
  return {
    requests,
    decisions,
    start: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The built dashboard alone (`next start`), talking to `apiUrl`. */
export async function startWeb(apiUrl: string): Promise<{ webUrl: string; close: () => Promise<void> }> {
  const port = await freePort();
  const webUrl = `http://127.0.0.1:${port}`;
  const out: string[] = [];
  const proc: ChildProcess = spawn(
    process.execPath,
    [path.resolve(__dirname, '../node_modules/next/dist/bin/next'), 'start', '-H', '127.0.0.1', '-p', String(port)],
    {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, NODE_ENV: 'production', TOOLGATE_API_URL: apiUrl, PUBLIC_API_URL: apiUrl, PUBLIC_WEB_URL: webUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  proc.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  proc.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  const close = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      try {
        process.kill(-proc.pid!, 'SIGTERM');
      } catch {
        resolve();
      }
    });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${webUrl}/login`)).status < 500) return { webUrl, close };
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      await close();
      throw new Error(`the dashboard did not start:\n${out.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
