import { z } from 'zod';
import { Cidr, RoleRules } from './rules';

/**
 * What an admin sends to create or replace a role, and the checks on its rules that the
 * RoleRules shape does not make. The API builds its DTO from UpsertRole and the dashboard's
 * role builder validates its draft with the very same schema, so a preview that says "valid"
 * is exactly a request the API accepts.
 *
 * Checks beyond the shape, run so that a role the API accepts behaves the way it reads:
 *  - Constraint values (`equals`, `oneOf` elements) may reference key metadata, and the only
 *    reference the policy engine resolves is `${key.metadata.<name>}` (nested: `<a>.<b>`).
 *    Anything else inside `${…}`, or a `${` that is never closed, would silently be a value that
 *    matches nothing (or the literal text), so it is refused with the path of the value.
 *  - Parameter constraints only narrow allow rules; the engine ignores them on deny rules (a deny
 *    rule denies every call its glob matches). A deny rule with constraints reads like "deny only
 *    when…", so it is refused rather than silently denying more than its author meant.
 *  - ipAllow entries the Cidr pattern accepts but that are not real addresses (the IPv6 pattern
 *    is loose: `1:::2`, `:::::`) would be dropped by the engine and match nothing.
 */

export const RoleName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters: lowercase letters, digits, _ and -, starting with a letter or digit');

export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

/** The metadata paths the policy engine resolves (it does not trim whitespace here: we are strict). */
const METADATA_REFERENCE = /^key\.metadata\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const REFERENCE = /\$\{([^{}]*)\}/g;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a constraint value's references are unusable, or null when they are fine (or absent). */
export function referenceProblem(value: unknown): string | null {
  if (typeof value !== 'string' || !value.includes('${')) return null;
  for (const match of value.matchAll(REFERENCE)) {
    if (!METADATA_REFERENCE.test(match[1] ?? '')) {
      return `${JSON.stringify(match[0])} is not a supported reference; use \${key.metadata.<name>}`;
    }
  }
  if (value.replace(REFERENCE, '').includes('${')) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the message shows the literal reference syntax.
    return 'has a "${" that does not close with "}"; references look like ${key.metadata.<name>}';
  }
  return null;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * Whether hex-and-colon text (what the Cidr pattern lets through for IPv6) is a real IPv6
 * address: eight groups, or fewer with exactly one `::`. Written here rather than with
 * node:net so that the dashboard runs the same check in the browser.
 */
function isIpv6(text: string): boolean {
  const gap = text.indexOf('::');
  if (gap !== -1 && text.indexOf('::', gap + 1) !== -1) return false;
  const side = (s: string) => (s === '' ? [] : s.split(':'));
  const groups = gap === -1 ? side(text) : [...side(text.slice(0, gap)), ...side(text.slice(gap + 2))];
  if (!groups.every((g) => HEX_GROUP.test(g))) return false;
  return gap === -1 ? groups.length === 8 : groups.length <= 7;
}

/** A CIDR entry the contract pattern accepts but which is not an address (or block) at all. */
function cidrProblem(entry: unknown): string | null {
  if (typeof entry !== 'string' || !Cidr.safeParse(entry).success) return null; // the contract reports it
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  // IPv4 is fully checked by the contract's pattern; what it cannot see is a malformed IPv6 address.
  return address.includes(':') && !isIpv6(address) ? 'must be an IPv4 or IPv6 address or CIDR block' : null;
}

/** Every extra issue found in (possibly invalid) role rules; paths are relative to the rules object. */
export function checkRoleRules(rules: unknown): RuleIssue[] {
  const issues: RuleIssue[] = [];
  if (!isRecord(rules)) return issues;

  if (Array.isArray(rules.tools)) {
    rules.tools.forEach((rule, i) => {
      if (!isRecord(rule) || !isRecord(rule.constraints)) return;
      if (rule.effect === 'deny' && Object.keys(rule.constraints).length > 0) {
        issues.push({
          path: ['tools', i, 'constraints'],
          message: 'constraints only apply to allow rules (a deny rule denies every call its match covers); move them to an allow rule',
        });
      }
      for (const [arg, constraint] of Object.entries(rule.constraints)) {
        if (!isRecord(constraint)) continue;
        const equals = referenceProblem(constraint.equals);
        if (equals) issues.push({ path: ['tools', i, 'constraints', arg, 'equals'], message: equals });
        if (Array.isArray(constraint.oneOf)) {
          constraint.oneOf.forEach((option, j) => {
            const problem = referenceProblem(option);
            if (problem) issues.push({ path: ['tools', i, 'constraints', arg, 'oneOf', j], message: problem });
          });
        }
      }
    });
  }

  if (Array.isArray(rules.ipAllow)) {
    rules.ipAllow.forEach((entry, i) => {
      const problem = cidrProblem(entry);
      if (problem) issues.push({ path: ['ipAllow', i], message: problem });
    });
  }
  return issues;
}

/** RoleRules plus the checks above, each issue with its path (`tools.2.constraints.customer_id.equals`). */
export const CheckedRoleRules = RoleRules.superRefine(
  (rules, ctx) => {
    for (const issue of checkRoleRules(rules)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  },
  // Run even when the shape already has problems, so that one answer lists them all.
  { when: () => true },
);

/**
 * Create and full replace share one shape: `PUT` replaces name, description and rules (an
 * omitted description clears it).
 */
export const UpsertRole = z
  .object({
    name: RoleName,
    description: z.string().trim().max(500, 'must be at most 500 characters').nullable().optional(),
    rules: CheckedRoleRules,
  })
  .strict();
export type UpsertRole = z.output<typeof UpsertRole>;
export type UpsertRoleInput = z.input<typeof UpsertRole>;

/**
 * A path and message per issue, as the API's problem JSON lists them (`rules.tools.0.effect`);
 * the dashboard uses it to put the same messages on the same fields before anything is sent.
 */
export function fieldErrors(error: z.ZodError, prefix = ''): { path: string; message: string }[] {
  return error.issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
    if (i.code === 'unrecognized_keys') {
      return { path, message: `unknown field${i.keys.length > 1 ? 's' : ''}: ${i.keys.join(', ')}` };
    }
    return { path, message: i.message };
  });
}
