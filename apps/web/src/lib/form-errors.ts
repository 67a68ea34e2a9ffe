import { errorMessage } from './client';
import { ApiError } from './problem';

/**
 * Splits an API failure into messages for the form's own fields (matched by the first segment of
 * the problem's `errors[].path`: a 400's invalid value or a 409's taken name) and one general
 * message for everything else, so no message is shown both on a field and in a banner.
 */
export function problemFields<K extends string>(
  err: unknown,
  names: readonly K[],
): { fields: Partial<Record<K, string>>; general: string | null } {
  if (!(err instanceof ApiError) || !err.problem.errors?.length) return { fields: {}, general: errorMessage(err) };
  const fields: Partial<Record<K, string>> = {};
  const rest: string[] = [];
  for (const e of err.problem.errors) {
    const name = names.find((n) => e.path === n || e.path.startsWith(`${n}.`));
    const text = `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}.`;
    if (name && !fields[name]) fields[name] = text;
    else rest.push(e.path ? `${e.path}: ${e.message}` : e.message);
  }
  return { fields, general: rest.length ? rest.join('. ') : null };
}
