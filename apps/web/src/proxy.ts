import { type NextRequest, NextResponse } from 'next/server';
import { contentSecurityPolicy, newNonce } from './lib/csp';
import { ACCESS_COOKIE, clearSessionCookies, REFRESH_COOKIE, refreshSession, secondsLeft, writeSessionCookies } from './lib/session';

/** Pages anyone may open; everything else needs a session. */
const PUBLIC = [/^\/login$/, /^\/signup$/, /^\/invitations\/[^/]+$/];
/** Refresh a little before the access token runs out, so a page never renders with a dead one. */
const REFRESH_MARGIN_S = 30;

export const config = {
  matcher: ['/((?!_next/static|_next/image|favicon.ico|icon.svg|api/session).*)'],
};

/**
 * Runs before every page and BFF call: gives the response a Content-Security-Policy with a fresh
 * nonce (also on the request, where Next reads it to put the nonce on its scripts), and keeps the
 * session alive (`session`).
 */
export async function proxy(req: NextRequest) {
  const csp = contentSecurityPolicy(newNonce());
  const headers = new Headers(req.headers);
  headers.set('content-security-policy', csp);
  const res = await session(req, headers);
  res.headers.set('Content-Security-Policy', csp);
  return res;
}

/**
 * Rotates the refresh token when the access token is (nearly) expired, and sends people without a
 * session to /login with a `next` that returns them where they were.
 */
async function session(req: NextRequest, headers: Headers) {
  const { pathname, search } = req.nextUrl;
  const isApi = pathname.startsWith('/api/');
  const isPublic = PUBLIC.some((r) => r.test(pathname));
  headers.set('x-tg-path', pathname + search);

  const access = req.cookies.get(ACCESS_COOKIE)?.value;
  const refresh = req.cookies.get(REFRESH_COOKIE)?.value;
  if (secondsLeft(access) > REFRESH_MARGIN_S) return NextResponse.next({ request: { headers } });
  if (!refresh) {
    if (isPublic) return NextResponse.next({ request: { headers } });
    return signIn(req, isApi, false);
  }

  const result = await refreshSession(refresh);
  if (!result.ok) {
    if (result.status >= 500) {
      // The API is unreachable: do not throw the session away; the page shows the outage.
      if (isApi) return problem(503, 'api_unavailable', 'The Toolgate API cannot be reached right now. Try again in a moment.');
      return NextResponse.next({ request: { headers } });
    }
    if (isPublic) {
      const res = NextResponse.next({ request: { headers } });
      clearSessionCookies(res.cookies);
      return res;
    }
    return signIn(req, isApi, true);
  }

  // Hand the fresh tokens both to this request (server components read them) and to the browser.
  const jar = new Map(req.cookies.getAll().map((c) => [c.name, c.value]));
  jar.set(ACCESS_COOKIE, result.pair.accessToken);
  jar.set(REFRESH_COOKIE, result.pair.refreshToken);
  headers.set('cookie', [...jar].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; '));
  const res = NextResponse.next({ request: { headers } });
  writeSessionCookies(res.cookies, result.pair);
  return res;
}

function signIn(req: NextRequest, isApi: boolean, expired: boolean) {
  if (isApi) {
    const res = problem(401, 'unauthenticated', expired ? 'Your session has expired; log in again.' : 'Log in to continue.');
    clearSessionCookies(res.cookies);
    return res;
  }
  const url = req.nextUrl.clone();
  url.pathname = '/login';
  url.search = '';
  const back = req.nextUrl.pathname + req.nextUrl.search;
  if (back !== '/') url.searchParams.set('next', back);
  if (expired) url.searchParams.set('expired', '1');
  const res = NextResponse.redirect(url);
  clearSessionCookies(res.cookies);
  return res;
}

function problem(status: number, code: string, detail: string) {
  return NextResponse.json(
    { type: `https://toolgate.dev/problems/${code}`, title: status === 401 ? 'Unauthorized' : 'Service Unavailable', status, detail, code },
    { status, headers: { 'content-type': 'application/problem+json' } },
  );
}
