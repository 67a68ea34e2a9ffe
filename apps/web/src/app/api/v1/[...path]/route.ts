import { cookies } from 'next/headers';
import { type NextRequest, NextResponse } from 'next/server';
import { apiBase } from '@/lib/config';
import { ACCESS_COOKIE } from '@/lib/session';

/**
 * The browser's only way to the API: forwards `/api/v1/...` to the API's `/v1/...` with the
 * session's bearer token from the httpOnly cookie (the proxy has refreshed it already).
 * Streams the answer back unchanged, so problem JSON and NDJSON exports pass through.
 */
async function forward(req: NextRequest, ctx: { params: Promise<{ path: string[] }> }) {
  const { path } = await ctx.params;
  if (req.method !== 'GET' && req.method !== 'HEAD' && !sameOrigin(req)) {
    return problem(403, 'forbidden', 'Cross-site requests are not accepted.');
  }
  const token = (await cookies()).get(ACCESS_COOKIE)?.value;
  const url = `${apiBase()}/v1/${path.map(encodeURIComponent).join('/')}${req.nextUrl.search}`;
  const headers: Record<string, string> = { accept: req.headers.get('accept') ?? 'application/json' };
  const type = req.headers.get('content-type');
  if (type) headers['content-type'] = type;
  if (token) headers.authorization = `Bearer ${token}`;
  const forwardedFor = req.headers.get('x-forwarded-for');
  if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
  let upstream: Response;
  try {
    upstream = await fetch(url, {
      method: req.method,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer(),
      cache: 'no-store',
      redirect: 'manual',
    });
  } catch {
    return problem(503, 'api_unavailable', 'The Toolgate API cannot be reached right now. Try again in a moment.');
  }
  const out = new Headers();
  for (const h of ['content-type', 'content-disposition', 'retry-after', 'cache-control']) {
    const v = upstream.headers.get(h);
    if (v) out.set(h, v);
  }
  return new NextResponse(upstream.status === 204 ? null : upstream.body, { status: upstream.status, headers: out });
}

function sameOrigin(req: NextRequest): boolean {
  const origin = req.headers.get('origin');
  if (!origin) return req.headers.get('sec-fetch-site') !== 'cross-site';
  try {
    return new URL(origin).host === (req.headers.get('x-forwarded-host') ?? req.headers.get('host'));
  } catch {
    return false;
  }
}

function problem(status: number, code: string, detail: string) {
  return NextResponse.json(
    { type: `https://toolgate.dev/problems/${code}`, status, detail, code },
    { status, headers: { 'content-type': 'application/problem+json' } },
  );
}

export const GET = forward;
export const POST = forward;
export const PUT = forward;
export const PATCH = forward;
export const DELETE = forward;
export const dynamic = 'force-dynamic';
