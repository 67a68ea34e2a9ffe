import { apiBase, apiTimeoutMs, secureCookies } from './config';

export const ACCESS_COOKIE = 'tg_at';
export const REFRESH_COOKIE = 'tg_rt';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  refreshExpiresAt: string;
}

/** Seconds until the JWT's `exp` (negative when expired); -Infinity when it cannot be read. */
export function secondsLeft(jwt: string | undefined, now = Date.now()): number {
  if (!jwt) return Number.NEGATIVE_INFINITY;
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: number };
    return typeof payload.exp === 'number' ? payload.exp - now / 1000 : Number.NEGATIVE_INFINITY;
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
}

type RefreshResult = { ok: true; pair: TokenPair } | { ok: false; status: number };
interface Inflight {
  promise: Promise<RefreshResult>;
  settledAt?: number;
}

// The API rotates refresh tokens and treats a reused one as theft (it revokes the whole family).
// Pages and API calls arrive in parallel, so one refresh per token is shared by everyone holding
// it, and its answer is remembered briefly for requests that still carry the old cookie. A failure
// of the API itself (5xx, unreachable) is shared only while in flight: the next request asks again.
const REMEMBER_MS = 60_000;
const g = globalThis as typeof globalThis & { __tgRefresh?: Map<string, Inflight> };
if (!g.__tgRefresh) g.__tgRefresh = new Map<string, Inflight>();
const inflight = g.__tgRefresh;

export function refreshSession(refreshToken: string): Promise<RefreshResult> {
  const now = Date.now();
  for (const [k, v] of inflight) if (v.settledAt && now - v.settledAt > REMEMBER_MS) inflight.delete(k);
  const known = inflight.get(refreshToken);
  if (known) return known.promise;
  const entry: Inflight = { promise: Promise.resolve({ ok: false, status: 503 }) };
  inflight.set(refreshToken, entry);
  entry.promise = (async (): Promise<RefreshResult> => {
    let result: RefreshResult = { ok: false, status: 503 };
    try {
      const res = await fetch(`${apiBase()}/v1/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken }),
        cache: 'no-store',
        signal: AbortSignal.timeout(apiTimeoutMs()),
      });
      result = res.ok ? { ok: true, pair: (await res.json()) as TokenPair } : { ok: false, status: res.status };
    } catch {
      // Unreachable, no answer in time, or an unreadable one: a 503 for this round.
    }
    entry.settledAt = Date.now();
    if (!result.ok && result.status >= 500 && inflight.get(refreshToken) === entry) inflight.delete(refreshToken);
    return result;
  })();
  return entry.promise;
}

export interface CookieJar {
  set(name: string, value: string, options: Record<string, unknown>): unknown;
}

/** Both tokens live in httpOnly cookies; the browser's JavaScript never sees them. */
export function writeSessionCookies(jar: CookieJar, pair: TokenPair): void {
  const base = { httpOnly: true, sameSite: 'lax', secure: secureCookies(), path: '/' };
  jar.set(ACCESS_COOKIE, pair.accessToken, { ...base, maxAge: pair.expiresIn });
  jar.set(REFRESH_COOKIE, pair.refreshToken, { ...base, expires: new Date(pair.refreshExpiresAt) });
}

export function clearSessionCookies(jar: CookieJar): void {
  const base = { httpOnly: true, sameSite: 'lax', secure: secureCookies(), path: '/', maxAge: 0 };
  jar.set(ACCESS_COOKIE, '', base);
  jar.set(REFRESH_COOKIE, '', base);
}

const NEXT_BASE = 'http://dashboard.invalid';
const dropsOrTurns = (c: string) => c <= '\u001f' || c === '\u007f' || c === '\\';

/**
 * Only a path on this dashboard may be a post-login destination (no open redirects), returned in
 * the form the browser will read it. Browsers drop tabs and newlines inside URLs and read `\` as
 * `/`, so `/\t/evil.example` or `/\evil.example` would become `//evil.example`: such characters
 * are refused, and what is left must still resolve to this origin.
 */
export function safeNext(next: string | null | undefined): string {
  if (!next?.startsWith('/') || [...next].some(dropsOrTurns)) return '/';
  let url: URL;
  try {
    url = new URL(next, NEXT_BASE);
  } catch {
    return '/';
  }
  if (url.origin !== NEXT_BASE) return '/';
  return url.pathname + url.search + url.hash;
}
