import { type NextRequest, NextResponse } from 'next/server';
import { apiBase } from '@/lib/config';
import { clearSessionCookies, REFRESH_COOKIE } from '@/lib/session';

/** Revokes the refresh token at the API (best effort) and drops both cookies. */
export async function POST(req: NextRequest) {
  const refreshToken = req.cookies.get(REFRESH_COOKIE)?.value;
  if (refreshToken) {
    await fetch(`${apiBase()}/v1/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken }),
      cache: 'no-store',
    }).catch(() => undefined);
  }
  const res = NextResponse.json({ ok: true });
  clearSessionCookies(res.cookies);
  return res;
}
