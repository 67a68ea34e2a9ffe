import { fieldErrors, UpsertRole } from '@toolgate/contracts/src/roles';
import type { CatalogueItem, ItemKind } from './catalogue';
import type { RoleRules } from '@toolgate/contracts';

/**
 * The role builder's one piece of state is the rules object itself, exactly as it will be sent:
 * the form edits it in place (keeping any field it has no input for) and the JSON view prints
 * and parses it, which is why switching between the two never changes a rule.
 */
export type Section = 'tools' | 'prompts' | 'resources' | 'rateLimits' | 'redact' | 'ipAllow';
export type Effect = 'allow' | 'deny';

export const EMPTY_RULES: RoleRules = { tools: [], prompts: [], resources: [], rateLimits: [], redact: [], ipAllow: [] };

const list = (rules: RoleRules, section: Section): unknown[] => {
  const v = (rules as Record<string, unknown>)[section];
  return Array.isArray(v) ? v : [];
};

export function withSection(rules: RoleRules, section: Section, items: unknown[]): RoleRules {
  return { ...rules, [section]: items } as RoleRules;
}

export function addRule(rules: RoleRules, section: Section, value: unknown): RoleRules {
  return withSection(rules, section, [...list(rules, section), value]);
}

export function removeRule(rules: RoleRules, section: Section, index: number): RoleRules {
  return withSection(
    rules,
    section,
    list(rules, section).filter((_, i) => i !== index),
  );
}

/** Sets fields of one rule; a field set to undefined is removed (an emptied input means "not set"). */
export function patchRule(rules: RoleRules, section: Section, index: number, patch: Record<string, unknown>): RoleRules {
  return withSection(
    rules,
    section,
    list(rules, section).map((r, i) => {
      if (i !== index) return r;
      const next: Record<string, unknown> = { ...(r as Record<string, unknown>), ...patch };
      for (const [k, v] of Object.entries(patch)) if (v === undefined) delete next[k];
      return next;
    }),
  );
}

/**
 * Ticks (or unticks, with `effect` null) one catalogue item: edits its exact rule if there is
 * one, else appends one. A deny rule drops constraints (they only narrow allow rules).
 */
export function setItem(rules: RoleRules, kind: ItemKind, item: CatalogueItem, index: number, effect: Effect | null): RoleRules {
  if (index >= 0) {
    if (effect === null) return removeRule(rules, kind, index);
    return patchRule(rules, kind, index, effect === 'deny' ? { effect, constraints: undefined } : { effect });
  }
  if (effect === null) return rules;
  const rule = kind === 'resources' ? { effect, server: item.server, uri: item.subject } : { effect, match: item.subject };
  return addRule(rules, kind, rule);
}

/** Every issue the API would report for this role, keyed by its path (`rules.tools.0.effect`). */
export function validate(name: string, description: string, rules: RoleRules): Map<string, string> {
  const parsed = UpsertRole.safeParse({ name, description: description.trim() || null, rules });
  const byPath = new Map<string, string>();
  if (!parsed.success) for (const e of fieldErrors(parsed.error)) if (!byPath.has(e.path)) byPath.set(e.path, e.message);
  return byPath;
}

/** `{ "tools": [...] }` → the rules object, or why not. */
export function parseRulesText(text: string): { ok: true; rules: RoleRules } | { ok: false; message: string } {
  if (!text.trim()) return { ok: false, message: 'The rules are empty. Start from {}.' };
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { ok: false, message: 'The rules must be a JSON object: { "tools": [...], ... }.' };
    }
    return { ok: true, rules: value as RoleRules };
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(raw);
    let where = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      where = `line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')}: `;
    }
    const reason = raw
      .replace(/^JSON\.parse: /, '')
      .replace(/ in JSON at position \d+.*$/, '')
      .replace(/\s*\(line \d+ column \d+\)$/, '');
    return { ok: false, message: `Not valid JSON — ${where}${reason}.` };
  }
}
