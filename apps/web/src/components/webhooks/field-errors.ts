import { errorMessage } from '@/lib/client';
import { ApiError } from '@/lib/problem';

/** The API's field error for `field` (its `errors[].path`), else the whole failure as one message. */
export function fieldOrGeneral(err: unknown, field: string): { field: string | null; general: string | null } {
  const hit = err instanceof ApiError ? err.problem.errors?.find((e) => e.path === field || e.path.startsWith(`${field}.`)) : undefined;
  if (hit) return { field: hit.message.charAt(0).toUpperCase() + hit.message.slice(1), general: null };
  return { field: null, general: errorMessage(err) };
}
