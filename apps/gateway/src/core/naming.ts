import { createHash } from 'node:crypto';

/**
 * Names on the aggregated endpoint `/mcp/{org}`: tools and prompts become `{server}__{name}`,
 * resource URIs become `tg://{server}/{uri}`. Clients such as OpenAI's accept only
 * `^[A-Za-z0-9_-]{1,64}$`, so a name that would break that is sanitised, truncated and given a
 * hash of the full name: deterministic, so every worker derives the same name. A hashed name ends
 * in `_` and 8 hex digits and a plain one never does (an upstream name of that shape is hashed
 * too), so the two cannot collide and a plain name is its own upstream name; a hashed one is
 * looked up in the server's catalogue. Server slugs (≤ 40 chars, no `_`) are never truncated, so
 * the server is always recoverable.
 */
export const SEPARATOR = '__';
const MAX = 64;
const VALID = /^[A-Za-z0-9_-]{1,64}$/;
const HASHED = /_[0-9a-f]{8}$/;

export function exposedName(server: string, name: string): string {
  const plain = `${server}${SEPARATOR}${name}`;
  if (plain.length <= MAX && VALID.test(plain) && !HASHED.test(name)) return plain;
  const hash = createHash('sha256').update(plain).digest('hex').slice(0, 8);
  const sanitized = `${server}${SEPARATOR}${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return `${sanitized.slice(0, MAX - 9)}_${hash}`;
}

/** Split an exposed name into server slug and the rest (the plain name, or a hashed form). */
export function splitExposed(exposed: string): { server: string; rest: string } | null {
  const i = exposed.indexOf(SEPARATOR);
  if (i <= 0 || i + SEPARATOR.length >= exposed.length) return null;
  return { server: exposed.slice(0, i), rest: exposed.slice(i + SEPARATOR.length) };
}

/**
 * The catalogue item an exposed name stands for, or null. Two items that share an exposed name
 * (a 32-bit hash collision a hostile server can craft) stand for neither: see `unambiguous`.
 */
export function findExposed<T extends { name?: unknown }>(server: string, items: readonly T[], exposed: string): T | null {
  const matches = items.filter((i) => exposedName(server, String(i.name)) === exposed);
  return matches.length === 1 ? (matches[0] ?? null) : null;
}

/** The items whose exposed name no other item of the server shares: what a list may show. */
export function unambiguous<T extends { name?: unknown }>(server: string, items: readonly T[]): T[] {
  const count = new Map<string, number>();
  const names = items.map((i) => exposedName(server, String(i.name)));
  for (const n of names) count.set(n, (count.get(n) ?? 0) + 1);
  return items.filter((_, k) => count.get(names[k] ?? '') === 1);
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
