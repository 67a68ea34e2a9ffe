import { ApiError } from '@/lib/problem';
import { errorMessage } from '@/lib/client';

/** Splits an API failure into per-field messages (by the problem's `errors[].path`) and a general one. */
export function keyErrors(err: unknown): { fields: Record<string, string>; general: string | null } {
  if (!(err instanceof ApiError) || !err.problem.errors?.length) return { fields: {}, general: errorMessage(err) };
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  for (const e of err.problem.errors) {
    const field = e.path.startsWith('name')
      ? 'name'
      : e.path.startsWith('metadata')
        ? 'meta'
        : e.path.startsWith('expires')
          ? 'expires'
          : e.path.startsWith('roleIds')
            ? 'roleIds'
            : null;
    const text = field === 'meta' && e.path.includes('.') ? `${e.path.slice('metadata.'.length)}: ${e.message}` : e.message;
    if (field && !fields[field]) fields[field] = text.charAt(0).toUpperCase() + text.slice(1);
    else rest.push(e.path ? `${e.path}: ${e.message}` : e.message);
  }
  return { fields, general: rest.length ? rest.join('. ') : null };
}
