import { RoleRules, type RoleView, type UpsertRole } from '@toolgate/contracts';

export type RoleChange =
  | { action: 'create'; name: string; after: UpsertRole }
  | { action: 'update'; name: string; id: string; before: NormalRole; after: UpsertRole; diff: string[] }
  | { action: 'unchanged'; name: string; id: string }
  | { action: 'delete'; name: string; id: string; keyCount: number };

/** A role body in one canonical form: defaults filled in, keys sorted, empty description = none. */
export interface NormalRole {
  description: string | null;
  rules: RoleRules;
}

export function normalise(r: { description?: string | null; rules: unknown }): NormalRole {
  const description = r.description?.trim() || null;
  // The stored rules went through the same schema; parsing again fills defaults either side.
  return { description, rules: sortKeys(RoleRules.parse(r.rules)) as RoleRules };
}

/**
 * What applying `desired` to the org's `current` roles changes, by name. Bodies are compared in
 * normal form, so key order, spelled-out defaults and whitespace never count as a change; rule
 * order does (the first matching rule decides). Roles only in the org are deleted with `prune`.
 */
export function planRoles(desired: readonly UpsertRole[], current: readonly RoleView[], prune: boolean): RoleChange[] {
  const byName = new Map(current.map((r) => [r.name, r]));
  const changes: RoleChange[] = desired.map((want) => {
    const have = byName.get(want.name);
    if (!have) return { action: 'create', name: want.name, after: want };
    const before = pretty(normalise(have));
    const after = pretty(normalise(want));
    if (before === after) return { action: 'unchanged', name: want.name, id: have.id };
    return { action: 'update', name: want.name, id: have.id, before: normalise(have), after: want, diff: lineDiff(before, after) };
  });
  if (prune) {
    const wanted = new Set(desired.map((r) => r.name));
    for (const r of current) {
      if (!wanted.has(r.name)) changes.push({ action: 'delete', name: r.name, id: r.id, keyCount: r.keyCount });
    }
  }
  return changes;
}

const pretty = (r: NormalRole) => JSON.stringify(sortKeys(r), null, 2);

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  }
  return v;
}

/** The changed lines of two texts (`- old`, `+ new`), from their longest common subsequence. */
export function lineDiff(a: string, b: string): string[] {
  const x = a.split('\n');
  const y = b.split('\n');
  const lcs = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--)
      lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      i++;
      j++;
    } else if (i < x.length && (j === y.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${x[i++]}`);
    else out.push(`+ ${y[j++]}`);
  }
  return out;
}
