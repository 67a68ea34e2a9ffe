import type { PolicySnapshot } from '@toolgate/contracts';
import { compiledPolicy, type RedactionPattern } from './compiled';
import type { Principal } from './types';

/**
 * The redaction patterns that apply to the principal's responses: the `redact` rules of all its
 * known roles, in role order then rule order, without duplicates (same name, pattern and
 * replacement). Compiled once per snapshot; the returned list is cached per role combination and
 * shared, so it is frozen — do not mutate it.
 *
 * The regexes carry the `g` flag and are shared: use them with `String.prototype.replace` /
 * `replaceAll` (which reset `lastIndex`), not with stateful `exec`/`test` loops across awaits.
 */
export function redactionPatternsFor(snapshot: PolicySnapshot, principal: Principal): readonly RedactionPattern[] {
  const policy = compiledPolicy(snapshot);
  // Cache key: the known role ids in the principal's order (the order decides the output order).
  let cacheKey = '';
  for (const roleId of principal.roleIds) {
    if (policy.roles.has(roleId)) cacheKey += `${roleId}\u0000`;
  }
  const cached = policy.redactionsByRoles.get(cacheKey);
  if (cached !== undefined) return cached;

  const seenRoles = new Set<string>();
  const seenPatterns = new Set<string>();
  const patterns: RedactionPattern[] = [];
  for (const roleId of principal.roleIds) {
    const role = policy.roles.get(roleId);
    if (role === undefined || seenRoles.has(roleId)) continue;
    seenRoles.add(roleId);
    for (const pattern of role.redactions) {
      const identity = JSON.stringify([pattern.name, pattern.regex.source, pattern.replacement]);
      if (seenPatterns.has(identity)) continue;
      seenPatterns.add(identity);
      patterns.push(pattern);
    }
  }
  const frozen = Object.freeze(patterns);
  policy.redactionsByRoles.set(cacheKey, frozen);
  return frozen;
}
