import { cookies, headers } from 'next/headers';
import { forbidden, notFound, redirect } from 'next/navigation';
import { apiBase, apiTimeoutMs } from './config';
import { ApiError, type Problem, readProblem } from './problem';
import { ACCESS_COOKIE } from './session';

export type Result<T> = { ok: true; data: T } | { ok: false; problem: Problem };

/** Server-side call to the API with the signed-in person's token; never throws for HTTP errors. */
export async function apiResult<T>(path: string, init: RequestInit = {}): Promise<Result<T>> {
  const token = (await cookies()).get(ACCESS_COOKIE)?.value;
  let res: Response;
  try {
    res = await fetch(`${apiBase()}${path}`, {
      signal: AbortSignal.timeout(apiTimeoutMs()),
      ...init,
      cache: 'no-store',
      headers: {
        accept: 'application/json',
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...init.headers,
      },
    });
  } catch {
    return { ok: false, problem: { status: 503, code: 'api_unavailable', detail: 'The Toolgate API cannot be reached right now.' } };
  }
  if (res.status === 204) return { ok: true, data: undefined as T };
  if (!res.ok) return { ok: false, problem: await readProblem(res) };
  return { ok: true, data: (await res.json()) as T };
}

/**
 * For pages: the data, or the right page for the failure — login (401, returning here after),
 * the forbidden page (403), not found (404); anything else throws to the error boundary.
 */
export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const r = await apiResult<T>(path, init);
  if (r.ok) return r.data;
  return failPage(r.problem);
}

export async function failPage(problem: Problem): Promise<never> {
  if (problem.status === 401) {
    const here = (await headers()).get('x-tg-path') ?? '/';
    redirect(`/login?next=${encodeURIComponent(here)}&expired=1`);
  }
  if (problem.status === 403) forbidden();
  if (problem.status === 404) notFound();
  throw new ApiError(problem);
}
