import type { Effect, PolicySnapshot, SnapshotKey, SnapshotRole } from '@toolgate/contracts';
import { type CompiledParam, compileConstraints } from './constraints';
import { compileGlob, type GlobMatcher, globPattern, literalPrefix, type Pattern } from './glob';
import { type CidrBlock, parseCidr } from './ip';
import { type Decision, type RuleRef, ruleLabel } from './types';

/**
 * The per-snapshot precompiled form of a policy: globs become matchers, constraint regexes are
 * built, CIDRs parsed, keys indexed by hash. Built once per snapshot object on first use and
 * cached in a WeakMap, so it lives exactly as long as the worker keeps that snapshot.
 * Snapshots must therefore be treated as immutable once handed to this package.
 */

/** One allow/deny rule for tools, prompts or resources. */
export interface CompiledRule {
  readonly effect: Effect;
  /** Resource rules: the server slug glob (null for tools/prompts, which match `server__name`). */
  readonly server: GlobMatcher | null;
  /** Tools/prompts: `server__name` glob. Resources: URI glob. */
  readonly target: GlobMatcher;
  /**
   * The glob's literal text before its first wildcard (`github__` for `github__*`). Checked inline
   * before calling `target`, so the many rules that cannot match are rejected without a call.
   */
  readonly targetPrefix: string;
  /** The target glob as a Pattern, to compare with a resource template (templateVisible). */
  readonly pattern: Pattern;
  /** Parameter constraints (allow tool rules only); null when there are none. */
  readonly params: readonly CompiledParam[] | null;
  readonly ref: RuleRef;
  readonly label: string;
  /** The decision this rule produces when it allows: shared and frozen, so allowing allocates nothing. */
  readonly allowDecision: Decision;
}

export interface CompiledRateLimit {
  readonly scope: 'key' | 'tool';
  readonly perMinute: number;
  readonly burst: number;
  readonly match: GlobMatcher;
}

export interface RedactionPattern {
  readonly name: string;
  /** Compiled with flags `gu`; meant for `String.prototype.replace`/`replaceAll`. */
  readonly regex: RegExp;
  /** Passed to `replace` as is, so `$&` / `$1` work; default `[REDACTED:<name>]`. */
  readonly replacement: string;
}

export interface CompiledRole {
  readonly id: string;
  readonly name: string;
  readonly tools: readonly CompiledRule[];
  readonly prompts: readonly CompiledRule[];
  readonly resources: readonly CompiledRule[];
  readonly rateLimits: readonly CompiledRateLimit[];
  readonly redactions: readonly RedactionPattern[];
  /** Parsed ipAllow entries; entries that do not parse are dropped (they can match nothing). */
  readonly ipAllow: readonly CidrBlock[];
  /** Whether the role restricts addresses at all (true even if every entry failed to parse). */
  readonly restrictsIp: boolean;
  readonly ipRef: RuleRef;
}

export interface CompiledPolicy {
  readonly roles: ReadonlyMap<string, CompiledRole>;
  readonly keysByHash: ReadonlyMap<string, SnapshotKey>;
  /** Redaction lists per distinct role combination, filled lazily. */
  readonly redactionsByRoles: Map<string, readonly RedactionPattern[]>;
}

const cache = new WeakMap<PolicySnapshot, CompiledPolicy>();

/** The compiled form of a snapshot, built on first use. */
export function compiledPolicy(snapshot: PolicySnapshot): CompiledPolicy {
  let policy = cache.get(snapshot);
  if (policy === undefined) {
    policy = buildPolicy(snapshot);
    cache.set(snapshot, policy);
  }
  return policy;
}

/**
 * Precompiles a snapshot ahead of its first request (call it when a worker loads a snapshot so
 * that the first agent call does not pay for it). Optional: every entry point does it lazily.
 */
export function prepare(snapshot: PolicySnapshot): void {
  compiledPolicy(snapshot);
}

function buildPolicy(snapshot: PolicySnapshot): CompiledPolicy {
  const roles = new Map<string, CompiledRole>();
  for (const role of snapshot.roles) roles.set(role.id, compileRole(role));
  const keysByHash = new Map<string, SnapshotKey>();
  for (const key of snapshot.keys) keysByHash.set(key.hash, key);
  return { roles, keysByHash, redactionsByRoles: new Map() };
}

function ruleRef(role: SnapshotRole, path: string): RuleRef {
  return Object.freeze({ roleId: role.id, roleName: role.name, path });
}

function compiledRule(
  role: SnapshotRole,
  path: string,
  effect: Effect,
  server: GlobMatcher | null,
  targetGlob: string,
  params: readonly CompiledParam[] | null,
): CompiledRule {
  const ref = ruleRef(role, path);
  const label = ruleLabel(ref);
  const allowDecision: Decision = Object.freeze({ allowed: true, effect: 'allow', reason: `allowed by ${label}`, rule: ref });
  const target = compileGlob(targetGlob);
  const targetPrefix = literalPrefix(targetGlob);
  return { effect, server, target, targetPrefix, pattern: globPattern(targetGlob), params, ref, label, allowDecision };
}

function compileRole(role: SnapshotRole): CompiledRole {
  const { rules } = role;
  const tools = rules.tools.map((rule, i) => {
    // Constraints only narrow allow rules; a deny rule denies whatever its glob matches.
    const constrained = rule.effect === 'allow' && rule.constraints && Object.keys(rule.constraints).length > 0;
    const params = constrained ? compileConstraints(rule.constraints ?? {}) : null;
    return compiledRule(role, `tools[${i}]`, rule.effect, null, rule.match, params);
  });
  const prompts = rules.prompts.map((rule, i) => compiledRule(role, `prompts[${i}]`, rule.effect, null, rule.match, null));
  const resources = rules.resources.map((rule, i) =>
    compiledRule(role, `resources[${i}]`, rule.effect, compileGlob(rule.server ?? '*'), rule.uri, null),
  );
  const rateLimits = rules.rateLimits.map((rule) => ({
    scope: rule.scope,
    perMinute: rule.perMinute,
    burst: rule.burst ?? rule.perMinute,
    match: compileGlob(rule.match ?? '*'),
  }));
  const redactions = rules.redact.map((rule) =>
    Object.freeze({
      name: rule.name,
      regex: new RegExp(rule.pattern, 'gu'),
      replacement: rule.replacement ?? `[REDACTED:${rule.name}]`,
    }),
  );
  const ipAllow: CidrBlock[] = [];
  for (const entry of rules.ipAllow) {
    const block = parseCidr(entry);
    if (block !== null) ipAllow.push(block);
  }
  return {
    id: role.id,
    name: role.name,
    tools,
    prompts,
    resources,
    rateLimits,
    redactions,
    ipAllow,
    restrictsIp: rules.ipAllow.length > 0,
    ipRef: ruleRef(role, 'ipAllow'),
  };
}
