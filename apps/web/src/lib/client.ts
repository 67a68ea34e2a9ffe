import { ApiError, readProblem } from './problem';

/**
 * Browser-side call through the dashboard's own BFF (`/api/v1/...`), which adds the session's
 * token. A lost session sends the person to login and back here afterwards.
 */
export async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api${path}`, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError({ status: 0, code: 'network', detail: 'The dashboard cannot be reached. Check your connection and try again.' });
  }
  if (res.status === 401) {
    const here = window.location.pathname + window.location.search;
    window.location.assign(`/login?next=${encodeURIComponent(here)}&expired=1`);
    throw new ApiError({ status: 401, code: 'unauthenticated' });
  }
  if (res.status === 204) return undefined as T;
  if (!res.ok) throw new ApiError(await readProblem(res));
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return 'Something went wrong.';
}
