import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { generateAgentKey, type KeyStatus, type KeyView } from '@toolgate/contracts';
import type { Tx } from '@toolgate/db';
import type { AuthUser, OrgContext } from '../../common/auth';
import { Problem } from '../../common/problem';
import { OrgChangeService } from '../snapshots/org-change.service';
import { type CreateKeyDto, type KeyMetadata, type ListKeysQuery, resolveExpiry, type RotateKeyDto, type UpdateKeyDto } from './keys.dto';
import { type KeyRow, KeysRepository } from './keys.repository';

export function keyStatus(k: Pick<KeyRow, 'revokedAt' | 'expiresAt'>, now = new Date()): KeyStatus {
  if (k.revokedAt) return 'revoked';
  // Same rule as the gateway (@toolgate/policy checkKey): expired from the instant expiresAt is reached.
  if (k.expiresAt && k.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

/**
 * The public shape of a key. Never the hash (nor, of course, the secret): this view is what the
 * API returns and what the activity log records.
 */
export function keyView(k: KeyRow, now = new Date()): KeyView {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    roles: k.roles.map((r) => ({ id: r.role.id, name: r.role.name })),
    metadata: k.metadata as KeyMetadata,
    /** `try_it`: minted by Try it for one call and revoked after it (see @toolgate/contracts try-it.ts). */
    kind: k.kind,
    expiresAt: k.expiresAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    createdAt: k.createdAt.toISOString(),
    updatedAt: k.updatedAt.toISOString(),
    /** On a key replaced by a rotation: the key that replaced it. */
    rotatedToId: k.rotatedToId,
    status: keyStatus(k, now),
  };
}

/** A Try it key served one call: it can be neither edited nor rotated into a key someone could hold. */
function assertAgentKey(k: KeyRow): void {
  if (k.kind !== 'agent') throw Problem.conflict('This key was made by Try it for one call; it cannot be edited or rotated');
}

/**
 * Agent API keys: create (the secret is returned once, only its sha256 is stored), edit,
 * rotate and revoke. Every change recompiles and publishes the org's snapshot, so the gateway
 * accepts a new key and refuses a revoked one as soon as the call returns.
 */
@Injectable()
export class KeysService {
  constructor(
    private readonly repo: KeysRepository,
    private readonly changes: OrgChangeService,
  ) {}

  async list(org: OrgContext, query: ListKeysQuery) {
    const now = new Date();
    const rows = await this.repo.list(org.id, query.status, now);
    return { items: rows.map((k) => keyView(k, now)) };
  }

  async get(org: OrgContext, id: string): Promise<KeyView> {
    return keyView(await this.findOrThrow(org.id, id));
  }

  async create(user: AuthUser, org: OrgContext, dto: CreateKeyDto): Promise<KeyView & { key: string }> {
    return this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      await this.assertRolesExist(tx, org.id, dto.roleIds);
      const secret = generateAgentKey();
      const row = await this.repo.create(tx, org.id, {
        name: dto.name,
        prefix: secret.prefix,
        hash: secret.hash,
        metadata: dto.metadata,
        expiresAt: resolveExpiry(dto) ?? null,
        createdById: user.id,
        roleIds: dto.roleIds,
      });
      const view = keyView(row);
      await log({ action: 'key.created', targetType: 'key', targetId: row.id, after: view });
      return { ...view, key: secret.key };
    });
  }

  async update(user: AuthUser, org: OrgContext, id: string, dto: UpdateKeyDto): Promise<KeyView> {
    return this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      const before = await this.findOrThrow(org.id, id, tx);
      assertAgentKey(before);
      if (before.revokedAt) throw Problem.conflict('This key is revoked and can no longer be edited');
      if (dto.roleIds) await this.assertRolesExist(tx, org.id, dto.roleIds);
      const updated = await this.repo.updateActive(tx, org.id, id, {
        name: dto.name,
        metadata: dto.metadata,
        expiresAt: dto.expiresAt,
      });
      // Revoked between our read and the row lock: the revocation wins.
      if (!updated) throw Problem.conflict('This key is revoked and can no longer be edited');
      if (dto.roleIds) await this.repo.replaceRoles(tx, org.id, id, dto.roleIds);
      const after = await this.findOrThrow(org.id, id, tx);
      await log({ action: 'key.updated', targetType: 'key', targetId: id, before: keyView(before), after: keyView(after) });
      return keyView(after);
    });
  }

  /**
   * Replace a key with a new secret: the new key inherits name, roles, metadata and expiry
   * (unless a new expiry is given); the old key is revoked and points to its successor. Both
   * happen in one transaction, so there is never a moment with neither or both keys valid
   * in the published snapshot.
   */
  async rotate(user: AuthUser, org: OrgContext, id: string, dto: RotateKeyDto): Promise<KeyView & { key: string; rotatedFromId: string }> {
    return this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      const now = new Date();
      const old = await this.findOrThrow(org.id, id, tx);
      assertAgentKey(old);
      if (old.revokedAt) throw Problem.conflict('This key is revoked and cannot be rotated');
      const requested = resolveExpiry(dto);
      const expiresAt = requested === undefined ? old.expiresAt : requested;
      if (expiresAt && expiresAt.getTime() <= now.getTime()) {
        throw Problem.conflict('This key has expired; rotate it with a new expiresAt or expiresInDays (or null for no expiry)');
      }
      const newId = randomUUID();
      if (!(await this.repo.revoke(tx, org.id, id, now, newId))) {
        throw Problem.conflict('This key is revoked and cannot be rotated');
      }
      const secret = generateAgentKey();
      const created = await this.repo.create(tx, org.id, {
        id: newId,
        name: old.name,
        prefix: secret.prefix,
        hash: secret.hash,
        metadata: old.metadata as KeyMetadata,
        expiresAt,
        createdById: user.id,
        roleIds: old.roles.map((r) => r.role.id),
      });
      const view = keyView(created, now);
      await log({ action: 'key.rotated', targetType: 'key', targetId: id, before: keyView(old, now), after: view });
      return { ...view, key: secret.key, rotatedFromId: id };
    });
  }

  /** Revoke a key. Idempotent: revoking a revoked key changes nothing and logs nothing. */
  async revoke(user: AuthUser, org: OrgContext, id: string): Promise<void> {
    const current = await this.findOrThrow(org.id, id);
    if (current.revokedAt) return;
    await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      // A concurrent revocation may have won since the read above; then there is nothing to log
      // and the snapshot compiled by this change is identical to the previous one.
      if (!(await this.repo.revoke(tx, org.id, id, new Date()))) return;
      const after = await this.findOrThrow(org.id, id, tx);
      await log({ action: 'key.revoked', targetType: 'key', targetId: id, before: keyView(current), after: keyView(after) });
    });
  }

  private async findOrThrow(orgId: string, id: string, tx?: Tx): Promise<KeyRow> {
    const row = await this.repo.find(orgId, id, tx);
    if (!row) throw Problem.notFound('API key');
    return row;
  }

  /** Every role id must name a role of this org; another org's role is as unknown as a made-up id. */
  private async assertRolesExist(tx: Tx, orgId: string, roleIds: string[]): Promise<void> {
    const found = await this.repo.existingRoleIds(tx, orgId, roleIds);
    const missing = roleIds.filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw Problem.validation(missing.map((id) => ({ path: 'roleIds', message: `role ${id} does not exist in this organisation` })));
    }
  }
}
