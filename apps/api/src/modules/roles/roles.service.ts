import { Injectable } from '@nestjs/common';
import type { RoleRules, RoleView } from '@toolgate/contracts';
import type { Prisma, Tx } from '@toolgate/db';
import type { AuthUser, OrgContext } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import { OrgChangeService } from '../snapshots/org-change.service';
import type { DeleteRoleOptions, UpsertRoleDto } from './roles.dto';
import { type RoleData, RolesRepository, type RoleWithCount } from './roles.repository';

/** What the API shows of a role. */
const view = (r: RoleWithCount): RoleView => ({
  id: r.id,
  name: r.name,
  description: r.description,
  // Stored only after UpsertRoleDto accepted it.
  rules: r.rules as RoleRules,
  keyCount: r._count.keys,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

/** What the activity log keeps of a role: its definition, not derived counts. */
const logged = (r: RoleWithCount) => ({ name: r.name, description: r.description, rules: r.rules });

/** How many key names a 409 lists before summarising. */
const MAX_KEYS_LISTED = 20;

@Injectable()
export class RolesService {
  constructor(
    private readonly repo: RolesRepository,
    private readonly changes: OrgChangeService,
  ) {}

  async list(org: OrgContext) {
    const roles = await this.repo.list(org.id);
    return { items: roles.map(view) };
  }

  async get(org: OrgContext, id: string) {
    return view(await this.found(this.repo.get(org.id, id)));
  }

  async create(user: AuthUser, org: OrgContext, dto: UpsertRoleDto) {
    const created = await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      await this.ensureNameFree(tx, org.id, dto.name);
      const role = await this.repo.create(tx, org.id, data(dto));
      await log({ action: 'role.created', targetType: 'role', targetId: role.id, after: logged(role) });
      return role;
    });
    return view(created);
  }

  /** Full replace of name, description and rules; keys holding the role keep it. */
  async replace(user: AuthUser, org: OrgContext, id: string, dto: UpsertRoleDto) {
    const updated = await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      const before = await this.found(this.repo.get(org.id, id, tx));
      await this.ensureNameFree(tx, org.id, dto.name, id);
      const after = await this.repo.update(tx, org.id, id, data(dto));
      await log({ action: 'role.updated', targetType: 'role', targetId: id, before: logged(before), after: logged(after) });
      return after;
    });
    return view(updated);
  }

  /**
   * Deleting a role that non-revoked keys still hold would silently take permissions away from
   * running agents, so it is refused (409, naming the keys) unless `force` detaches it.
   */
  async remove(user: AuthUser, org: OrgContext, id: string, query: DeleteRoleOptions): Promise<void> {
    await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      const role = await this.found(this.repo.get(org.id, id, tx));
      const keys = await this.repo.activeKeysUsing(tx, org.id, id);
      if (keys.length > 0 && !query.force) {
        const names = keys.slice(0, MAX_KEYS_LISTED).map((k) => JSON.stringify(k.name));
        const more = keys.length > MAX_KEYS_LISTED ? ` and ${keys.length - MAX_KEYS_LISTED} more` : '';
        throw new Problem(
          409,
          ErrorCode.Conflict,
          `Role "${role.name}" is used by ${keys.length} active key${keys.length === 1 ? '' : 's'}: ${names.join(', ')}${more}. ` +
            'Take it off those keys first, or delete with ?force=true to detach it.',
          { keys },
        );
      }
      await this.repo.detachFromKeys(tx, org.id, id);
      await this.repo.delete(tx, org.id, id);
      await log({
        action: 'role.deleted',
        targetType: 'role',
        targetId: id,
        before: { ...logged(role), keys },
        after: null,
      });
    });
  }

  private async found(lookup: Promise<RoleWithCount | null>): Promise<RoleWithCount> {
    const role = await lookup;
    if (!role) throw Problem.notFound('Role');
    return role;
  }

  /** A friendlier 409 than the unique index's (which still guards against races). */
  private async ensureNameFree(tx: Tx, orgId: string, name: string, exceptId?: string): Promise<void> {
    if (await this.repo.findByName(tx, orgId, name, exceptId)) {
      throw Problem.conflict(`A role named "${name}" already exists in this organisation`, [
        { path: 'name', message: `"${name}" is already the name of another role` },
      ]);
    }
  }
}

function data(dto: UpsertRoleDto): RoleData {
  return {
    name: dto.name,
    description: dto.description || null,
    // The parsed rules, with every list present: what the snapshot compiler and the UI expect.
    rules: dto.rules as unknown as Prisma.InputJsonValue,
  };
}
