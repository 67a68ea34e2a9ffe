import { Injectable } from '@nestjs/common';
import {
  type EffectiveItem,
  type EffectivePolicy,
  PolicySnapshot,
  SIMULATED_METHODS,
  ServerCatalog,
  type SimulateResult,
} from '@toolgate/contracts';
import { checkKey, type Decision, decide, type PolicyRequest, type Principal, type RequestKind, ruleLabel } from '@toolgate/policy';
import type { OrgContext } from '../../common/auth';
import { Problem } from '../../common/problem';
import { parseOrThrow } from '../../common/zod';
import { keyStatus } from '../keys/keys.service';
import { SnapshotService } from '../snapshots/snapshot.service';
import { PolicyRepository } from './policy.repository';
import type { DraftRole, SimulateDto } from './simulate.dto';

/** What the gateway answers before authorization even starts, for keys it cannot authenticate. */
const UNKNOWN_KEY: Decision = { allowed: false, effect: 'deny', reason: 'the key is revoked or unknown', rule: null };
/** Stands for the draft role (and its imagined key) inside the simulated snapshot; never stored. */
const DRAFT_ROLE_ID = 'draft';
const EXPIRED_KEY: Decision = { allowed: false, effect: 'deny', reason: 'the key has expired', rule: null };

@Injectable()
export class PolicyService {
  constructor(
    private readonly repo: PolicyRepository,
    private readonly snapshots: SnapshotService,
  ) {}

  /**
   * Answers "would this key be allowed to make this call right now?" by running the gateway's
   * own steps — find the key in the snapshot, refuse it if expired, decide() — against the org's
   * latest compiled snapshot. Nothing is recorded: this is a read.
   */
  async simulate(org: OrgContext, dto: SimulateDto): Promise<SimulateResult> {
    if (dto.draft) return this.simulateDraft(org, dto, dto.draft);
    const key = await this.repo.findKey(org.id, dto.keyId!);
    if (!key) throw Problem.notFound('API key');

    const row = await this.snapshots.latest(org.id);
    // Every org gets snapshot version 1 when it is created, so this means the org is being deleted.
    if (!row) throw Problem.notFound('Policy snapshot');
    const snapshot = parseOrThrow(PolicySnapshot, row.snapshot);

    const { request, warnings } = toPolicyRequest(dto);
    if (!snapshot.servers.some((s) => s.slug === request.server)) {
      warnings.push(`no server with slug "${request.server}" in the current snapshot (unknown or disabled)`);
    }

    // Revoked keys are left out of the snapshot: the gateway cannot authenticate them at all.
    const snapshotKey = snapshot.keys.find((k) => k.id === key.id);
    let decision: Decision;
    if (!snapshotKey) decision = UNKNOWN_KEY;
    else if (checkKey(snapshotKey) === 'expired') decision = EXPIRED_KEY;
    else {
      decision = decide(
        snapshot,
        { keyId: snapshotKey.id, roleIds: snapshotKey.roleIds, metadata: snapshotKey.metadata, ip: dto.ip ?? null },
        request,
      );
    }

    const roleNames = new Map(snapshot.roles.map((r) => [r.id, r.name]));
    const roles = snapshotKey
      ? snapshotKey.roleIds.map((id) => ({ id, name: roleNames.get(id) ?? null }))
      : key.roles.map(({ role }) => ({ id: role.id, name: role.name }));

    return {
      allowed: decision.allowed,
      effect: decision.effect,
      reason: decision.reason,
      rule: decision.rule ? { ...decision.rule, label: ruleLabel(decision.rule) } : null,
      snapshotVersion: row.version,
      key: { id: key.id, name: key.name, roles },
      request: { kind: request.kind, server: request.server, name: request.name },
      warnings,
    };
  }
  /**
   * The same decision for a role that is still being written: the org's current snapshot (its
   * servers) with the draft added as one more role, decided for a key holding only that role.
   * Nothing is stored; saved roles and keys are not consulted.
   */
  private async simulateDraft(org: OrgContext, dto: SimulateDto, draft: DraftRole) {
    const row = await this.snapshots.latest(org.id);
    if (!row) throw Problem.notFound('Policy snapshot');
    const snapshot = parseOrThrow(PolicySnapshot, row.snapshot);
    const { request, warnings } = toPolicyRequest(dto);
    if (!snapshot.servers.some((s) => s.slug === request.server)) {
      warnings.push(`no server with slug "${request.server}" in the current snapshot (unknown or disabled)`);
    }
    const role = { id: DRAFT_ROLE_ID, name: draft.name ?? 'draft', rules: draft.rules };
    // A fresh snapshot object: decide() compiles and caches per object, so the org's cached one stays as it is.
    const withDraft: PolicySnapshot = { ...snapshot, roles: [role] };
    const decision = decide(withDraft, { keyId: DRAFT_ROLE_ID, roleIds: [role.id], metadata: draft.metadata, ip: dto.ip ?? null }, request);
    return {
      allowed: decision.allowed,
      effect: decision.effect,
      reason: decision.reason,
      rule: decision.rule ? { roleId: null, roleName: role.name, path: decision.rule.path, label: ruleLabel(decision.rule) } : null,
      snapshotVersion: row.version,
      key: null,
      draft: true,
      request: { kind: request.kind, server: request.server, name: request.name },
      warnings,
    };
  }

  /**
   * What the key may call: every item of each enabled server's last probed catalogue, decided
   * without arguments by the same decide() as simulate(). An allow rule with constraints decides
   * either way (allowed when they hold vacuously, denied naming a missing argument), so both are
   * reported as "constrained" with that rule's constraints.
   */
  async effective(org: OrgContext, keyId: string): Promise<EffectivePolicy> {
    const key = await this.repo.findKey(org.id, keyId);
    if (!key) throw Problem.notFound('API key');
    const row = await this.snapshots.latest(org.id);
    if (!row) throw Problem.notFound('Policy snapshot');
    const status = keyStatus(key);
    const base = { keyId: key.id, status, snapshotVersion: row.version };
    if (status !== 'active') return { ...base, servers: [] };

    const snapshot = parseOrThrow(PolicySnapshot, row.snapshot);
    // An active key missing from the snapshot cannot authenticate either: nothing to list.
    const snapshotKey = snapshot.keys.find((k) => k.id === key.id);
    if (!snapshotKey) return { ...base, servers: [] };
    const principal: Principal = { keyId: snapshotKey.id, roleIds: snapshotKey.roleIds, metadata: snapshotKey.metadata, ip: null };

    const servers = await this.repo.enabledServers(org.id);
    return {
      ...base,
      servers: servers.map((s) => {
        const parsed = s.catalog === null ? null : ServerCatalog.safeParse(s.catalog);
        const catalog = parsed?.success ? parsed.data : null;
        const item = (kind: RequestKind, name: string, description: unknown, decideOn = name) =>
          effectiveItem(snapshot, decide(snapshot, principal, { kind, server: s.slug, name: decideOn }), name, description);
        return {
          id: s.id,
          slug: s.slug,
          name: s.name,
          catalogFetchedAt: catalog ? (s.catalogFetchedAt?.toISOString() ?? null) : null,
          tools: (catalog?.tools ?? []).map((t) => item('tool', t.name, t.description)),
          prompts: (catalog?.prompts ?? []).map((p) => item('prompt', p.name, p.description)),
          resources: (catalog?.resources ?? []).map((r) => item('resource', r.uri, r.description ?? r.name)),
        };
      }),
    };
  }
}

/** One catalogue item with the decision, and the constraints of the allow rule that decided it. */
function effectiveItem(snapshot: PolicySnapshot, decision: Decision, name: string, description: unknown): EffectiveItem {
  const rule = decision.rule;
  const index = rule ? /^tools\[(\d+)\]$/.exec(rule.path) : null;
  const toolRule = rule && index ? snapshot.roles.find((r) => r.id === rule.roleId)?.rules.tools?.[Number(index[1])] : undefined;
  const constraints =
    toolRule?.effect === 'allow' && toolRule.constraints && Object.keys(toolRule.constraints).length ? toolRule.constraints : null;
  return {
    name,
    description: typeof description === 'string' ? description : null,
    access: constraints ? 'constrained' : decision.allowed ? 'allowed' : 'denied',
    reason: decision.reason,
    rule: rule ? ruleLabel(rule) : null,
    constraints,
  };
}

/**
 * Builds the policy request the gateway would: namespaced tool/prompt names split at the first
 * `__` (server slugs cannot contain `__`, tool names may), resources addressed by server + URI.
 */
function toPolicyRequest(dto: SimulateDto): { request: PolicyRequest; warnings: string[] } {
  const kind = SIMULATED_METHODS[dto.method];
  const warnings: string[] = [];
  let server: string;
  let name: string;
  if (dto.server !== undefined) {
    server = dto.server;
    name = dto.name;
    if (kind !== 'resource' && name.startsWith(`${server}__`)) {
      warnings.push(
        `name "${name}" repeats the server prefix; with "server" given, name is taken as the ${kind}'s own name ("${server}__${name}" is what is matched)`,
      );
    }
  } else {
    // The DTO guarantees a non-empty server part and name part for tools and prompts.
    const split = dto.name.indexOf('__');
    server = dto.name.slice(0, split);
    name = dto.name.slice(split + 2);
  }
  return { request: { kind, server, name, ...(dto.arguments ? { arguments: dto.arguments } : {}) }, warnings };
}
