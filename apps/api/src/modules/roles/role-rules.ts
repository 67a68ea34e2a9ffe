import { isIP } from 'node:net';
import { Cidr } from '@toolgate/contracts';

/**
 * Checks on role rules that the RoleRules contract does not make, run on write so that a role
 * the API accepts behaves the way it reads:
 *
 *  - Constraint values (`equals`, `oneOf` elements) may reference key metadata, and the only
 *    reference the policy engine resolves is `${key.metadata.<name>}` (nested: `<a>.<b>`).
 *    Anything else inside `${…}`, or a `${` that is never closed, would silently be a value that
 *    matches nothing (or the literal text), so it is refused with the path of the value.
 *  - Parameter constraints only narrow allow rules; the engine ignores them on deny rules (a deny
 *    rule denies every call its glob matches). A deny rule with constraints reads like "deny only
 *    when…", so it is refused rather than silently denying more than its author meant.
 *  - ipAllow entries the contract's pattern accepts but that are not real addresses (the IPv6
 *    pattern is loose: `1:::2`, `:::::`) would be dropped by the engine and match nothing.
 *
 * The input is walked defensively: these checks also run when the contract schema has already
 * found other problems, so that one response lists every issue.
 */
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

/** A CIDR entry the contract pattern accepts but which is not an address (or block) at all. */
function cidrProblem(entry: unknown): string | null {
  if (typeof entry !== 'string' || !Cidr.safeParse(entry).success) return null; // the contract reports it
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  // The contract already bounds the prefix length; what it cannot see is a malformed address.
  return isIP(address) === 0 ? 'must be an IPv4 or IPv6 address or CIDR block' : null;
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
