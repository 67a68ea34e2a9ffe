import { createHash } from 'node:crypto';

/**
 * Names on the aggregated endpoint `/mcp/{org}`: tools and prompts become `{server}__{name}`,
 * resource URIs become `tg://{server}/{uri}`. Clients such as OpenAI's accept only
 * `^[A-Za-z0-9_-]{1,64}$`, so a name that would break that is sanitised and, if too long,
 * truncated with a hash of the full name: deterministic, so every worker derives the same name.
 * Server slugs (≤ 40 chars, no `__`) are never truncated, so the server is always recoverable.
 */
export const SEPARATOR = '__';
const MAX = 64;
const VALID = /^[A-Za-z0-9_-]{1,64}$/;

export function exposedName(server: string, name: string): string {
  const plain = `${server}${SEPARATOR}${name}`;
  if (plain.length <= MAX && VALID.test(plain)) return plain;
  const hash = createHash('sha256').update(plain).digest('hex').slice(0, 8);
  const sanitized = `${server}${SEPARATOR}${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  if (sanitized.length <= MAX - 9 && sanitized !== plain) return `${sanitized}_${hash}`;
  return `${sanitized.slice(0, MAX - 9)}_${hash}`;
}

/** True when the exposed name is exactly `{server}__{name}` (no sanitising was needed). */
export function isPlain(exposed: string, server: string, name: string): boolean {
  return exposed.length === server.length + SEPARATOR.length + name.length;
}

/** Split an exposed name into server slug and the rest (the plain name, or a hashed form). */
export function splitExposed(exposed: string): { server: string; rest: string } | null {
  const i = exposed.indexOf(SEPARATOR);
  if (i <= 0 || i + SEPARATOR.length >= exposed.length) return null;
  return { server: exposed.slice(0, i), rest: exposed.slice(i + SEPARATOR.length) };
}

const URI_PREFIX = 'tg://';

export function exposedUri(server: string, uri: string): string {
  return `${URI_PREFIX}${server}/${uri}`;
}

export function splitUri(exposed: string): { server: string; uri: string } | null {
  if (!exposed.startsWith(URI_PREFIX)) return null;
  const slash = exposed.indexOf('/', URI_PREFIX.length);
  if (slash <= URI_PREFIX.length) return null;
  return { server: exposed.slice(URI_PREFIX.length, slash), uri: exposed.slice(slash + 1) };
}
