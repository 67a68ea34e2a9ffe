import type { PolicySnapshot } from '@toolgate/contracts';
import { type CompiledPolicy, type CompiledRole, type CompiledRule, compiledPolicy } from './compiled';
import { explainFailedParam, firstFailedParam } from './constraints';
import { ANY_ONE, ANY_RUN, type Pattern, patternsIntersect } from './glob';
import { cidrContains, parseIp } from './ip';
import { type Decision, type PolicyRequest, type Principal, type RequestKind, ruleLabel } from './types';
import { templatePattern } from './uri-template';
import { ruleSubject } from './subject';

/**
 * Authorization for one request. Evaluation order:
 *  1. a key without any role known to the snapshot is denied everything;
 *  2. ip allow-lists: if any of the key's roles has a non-empty `ipAllow`, the client ip must be
 *     inside at least one block of those lists (union across roles), else deny;
 *  3. rules of the request's kind, across ALL the key's roles: any matching deny rule wins;
 *     otherwise the first matching allow rule whose constraints are satisfied allows; otherwise,
 *     if allow rules matched but all failed their constraints, deny naming the first failure;
 *     otherwise default deny.
 * "First" means in the order of `principal.roleIds`, then rule order within the role; it only
 * affects which rule is reported, never whether the call is allowed.
 *
 * Cost: O(rules of that kind in the key's roles). An allowed call allocates only the
 * `server__name` string (plus the parsed ip when an allow-list applies); allow decisions are
 * shared frozen objects, so treat every Decision as read-only.
 */
export function decide(snapshot: PolicySnapshot, principal: Principal, request: PolicyRequest): Decision {
  const policy = compiledPolicy(snapshot);
  if (!hasKnownRole(policy, principal)) return NO_ROLES;
  const ipDenied = checkIp(policy, principal);
  if (ipDenied !== null) return ipDenied;

  const { kind, server, name } = request;
  const subject = subjectOf(kind, server, name);
  let allowedBy: CompiledRule | null = null;
  let firstFailure: CompiledRule | null = null;
  let firstFailureParam = -1;

  for (const roleId of principal.roleIds) {
    const role = policy.roles.get(roleId);
    if (role === undefined) continue;
    for (const rule of rulesOf(role, kind)) {
      if (!ruleMatches(rule, server, subject)) continue;
      if (rule.effect === 'deny') {
        return deny(`${describeRequest(kind, server, name)} is denied by ${rule.label}`, rule);
      }
      // Keep scanning after an allow: a deny later on (any role) still wins.
      if (allowedBy !== null) continue;
      if (rule.params === null) {
        allowedBy = rule;
        continue;
      }
      const failed = firstFailedParam(rule.params, request.arguments, principal.metadata);
      if (failed === -1) {
        allowedBy = rule;
      } else if (firstFailure === null) {
        firstFailure = rule;
        firstFailureParam = failed;
      }
    }
  }

  if (allowedBy !== null) return allowedBy.allowDecision;
  if (firstFailure !== null && firstFailure.params !== null) {
    const param = firstFailure.params[firstFailureParam];
    if (param !== undefined) {
      return deny(explainFailedParam(param, request.arguments, principal.metadata), firstFailure);
    }
  }
  return { allowed: false, effect: 'deny', reason: `no rule allows ${describeRequest(kind, server, name)}`, rule: null };
}

/**
 * Whether to list a tool / prompt / resource to the principal (tools/list, prompts/list,
 * resources/list): true iff some allow rule matches and no deny rule matches. Parameter
 * constraints are NOT evaluated (a tool allowed only with certain arguments is still listed).
 * A key without known roles, or calling from outside its ip allow-lists, sees nothing —
 * consistent with decide(), which would deny every call anyway.
 * For 'resource', `name` is the resource URI.
 */
export function visible(snapshot: PolicySnapshot, principal: Principal, kind: RequestKind, server: string, name: string): boolean {
  const policy = compiledPolicy(snapshot);
  if (!hasKnownRole(policy, principal) || checkIp(policy, principal) !== null) return false;
  const subject = subjectOf(kind, server, name);
  let allowed = false;
  for (const roleId of principal.roleIds) {
    const role = policy.roles.get(roleId);
    if (role === undefined) continue;
    for (const rule of rulesOf(role, kind)) {
      if (!ruleMatches(rule, server, subject)) continue;
      if (rule.effect === 'deny') return false;
      allowed = true;
    }
  }
  return allowed;
}

/**
 * Whether to list a resource template (resources/templates/list): true iff the principal could be
 * allowed some URI it expands to, i.e. an allow resource rule for the server has a URI glob that
 * can match one of its expansions, and no deny rule for the server matches all of them. Every
 * expression is taken to expand to anything, so a template can be listed although most of its
 * URIs are denied (each read is decided on its URI); one with an allowed URI is never hidden. A
 * role without resource rules for the server sees none of its templates.
 */
export function templateVisible(snapshot: PolicySnapshot, principal: Principal, server: string, template: string): boolean {
  const policy = compiledPolicy(snapshot);
  if (!hasKnownRole(policy, principal) || checkIp(policy, principal) !== null) return false;
  const pattern = templatePattern(template);
  let allowed = false;
  for (const roleId of principal.roleIds) {
    const role = policy.roles.get(roleId);
    if (role === undefined) continue;
    for (const rule of role.resources) {
      if (rule.server !== null && !rule.server(server)) continue;
      if (rule.effect === 'deny') {
        if (coversAll(rule, template, pattern)) return false;
      } else if (!allowed) {
        allowed = patternsIntersect(rule.pattern, pattern);
      }
    }
  }
  return allowed;
}

/**
 * Does the rule's glob match every expansion of the template? Decided exactly for a template
 * without expressions (one URI) and for `literal*` globs; any other glob is taken not to (so the
 * template stays listed and its reads are decided one by one).
 */
function coversAll(rule: CompiledRule, template: string, pattern: Pattern): boolean {
  if (!pattern.includes(ANY_RUN)) return rule.target(template);
  const g = rule.pattern;
  const run = g.indexOf(ANY_RUN);
  if (run !== g.length - 1) return false;
  for (let k = 0; k < run; k++) {
    const t = pattern[k];
    if (t === undefined || t === ANY_RUN || (g[k] !== ANY_ONE && g[k] !== t)) return false;
  }
  return true;
}

/**
 * Could the principal see anything of `server`: does some allow rule of its roles (tools,
 * prompts or resources) name that server, or a glob that can match it? Gates what an upstream
 * shared by the whole org says outside any call. Deny rules are not weighed: they deny names,
 * and without the catalogue no name is known, so a key allowed some of a server sees it.
 */
export function seesServer(snapshot: PolicySnapshot, principal: Principal, server: string): boolean {
  const policy = compiledPolicy(snapshot);
  if (!hasKnownRole(policy, principal) || checkIp(policy, principal) !== null) return false;
  const prefix = `${server}__`;
  for (const roleId of principal.roleIds) {
    const role = policy.roles.get(roleId);
    if (role === undefined) continue;
    for (const rule of role.tools.concat(role.prompts)) {
      if (rule.effect !== 'allow') continue;
      // `server__name` globs: a literal start that covers `server__` must begin with it; a
      // shorter one (`*`, `git*`) may still match it.
      if (rule.targetPrefix.length >= prefix.length ? rule.targetPrefix.startsWith(prefix) : prefix.startsWith(rule.targetPrefix))
        return true;
    }
    for (const rule of role.resources) if (rule.effect === 'allow' && (rule.server === null || rule.server(server))) return true;
  }
  return false;
}

const NO_RULES: readonly CompiledRule[] = [];

const NO_ROLES: Decision = Object.freeze({
  allowed: false,
  effect: 'deny',
  reason: 'the key has no roles',
  rule: null,
});

function hasKnownRole(policy: CompiledPolicy, principal: Principal): boolean {
  for (const roleId of principal.roleIds) if (policy.roles.has(roleId)) return true;
  return false;
}

function rulesOf(role: CompiledRole, kind: RequestKind): readonly CompiledRule[] {
  switch (kind) {
    case 'tool':
      return role.tools;
    case 'prompt':
      return role.prompts;
    case 'resource':
      return role.resources;
    default:
      return NO_RULES; // an unknown kind from an untyped caller matches nothing: default deny
  }
}

/** What the rule globs are matched against: `server__name`, or the URI for resources. */
function subjectOf(kind: RequestKind, server: string, name: string): string {
  return kind === 'resource' ? name : ruleSubject(server, name);
}

function ruleMatches(rule: CompiledRule, server: string, subject: string): boolean {
  return subject.startsWith(rule.targetPrefix) && (rule.server === null || rule.server(server)) && rule.target(subject);
}

function describeRequest(kind: RequestKind, server: string, name: string): string {
  return kind === 'resource'
    ? `resource ${JSON.stringify(name)} on server ${JSON.stringify(server)}`
    : `${kind} ${JSON.stringify(ruleSubject(server, name))}`;
}

function deny(reason: string, rule: CompiledRule): Decision {
  return { allowed: false, effect: 'deny', reason, rule: rule.ref };
}

/**
 * Enforces ip allow-lists: null when the principal may connect from where it is, else the denial.
 * The ip is parsed only when some role restricts addresses.
 */
function checkIp(policy: CompiledPolicy, principal: Principal): Decision | null {
  let firstRestricting: CompiledRole | null = null;
  let ip: ReturnType<typeof parseIp> | undefined;
  for (const roleId of principal.roleIds) {
    const role = policy.roles.get(roleId);
    if (role === undefined || !role.restrictsIp) continue;
    firstRestricting ??= role;
    if (ip === undefined) ip = principal.ip ? parseIp(principal.ip) : null;
    if (ip === null) break;
    for (const block of role.ipAllow) if (cidrContains(block, ip)) return null;
  }
  if (firstRestricting === null) return null;
  const where = firstRestricting.ipRef;
  const reason = principal.ip
    ? `client ip ${principal.ip} is not in an allowed range (${ruleLabel(where)})`
    : `the client ip is unknown but ${ruleLabel(where)} restricts addresses`;
  return { allowed: false, effect: 'deny', reason, rule: where };
}
