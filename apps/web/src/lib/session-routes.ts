import { type NextRequest, NextResponse } from 'next/server';
import { apiBase } from './config';
import { readProblem } from './problem';
import { type TokenPair, writeSessionCookies } from './session';

/** Log in or sign up through the API, then keep the tokens in httpOnly cookies only. */
export async function startSession(req: NextRequest, apiPath: '/v1/auth/login' | '/v1/auth/signup') {
  const body = await req.text();
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  // The API rate-limits logins per email and client IP: tell it who the client is.
  const ip = req.headers.get('x-forwarded-for') ?? req.headers.get('x-real-ip');
  if (ip) headers['x-forwarded-for'] = ip;
  let res: Response;
  try {
    res = await fetch(`${apiBase()}${apiPath}`, { method: 'POST', headers, body, cache: 'no-store' });
  } catch {
    return NextResponse.json(
      { status: 503, code: 'api_unavailable', detail: 'The Toolgate API cannot be reached right now.' },
      { status: 503, headers: { 'content-type': 'application/problem+json' } },
    );
  }
  if (!res.ok) {
    const p = await readProblem(res);
    return NextResponse.json(p, { status: res.status, headers: { 'content-type': 'application/problem+json' } });
  }
  const pair = (await res.json()) as TokenPair & { user: unknown };
  const out = NextResponse.json({ user: pair.user });
  writeSessionCookies(out.cookies, pair);
  return out;
}
