import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Organization } from '@toolgate/db';
import type { AuthUser, OrgContext } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { OrgChangeService } from '../snapshots/org-change.service';
import { SnapshotService } from '../snapshots/snapshot.service';
import type { CreateOrgDto, DeleteOrgDto, UpdateOrgDto } from './orgs.dto';
import { OrgsRepository } from './orgs.repository';

const view = (o: Organization, role?: string) => ({
  id: o.id,
  slug: o.slug,
  name: o.name,
  plan: o.plan,
  monthlyCallQuota: o.monthlyCallQuota,
  snapshotVersion: o.snapshotVersion,
  createdAt: o.createdAt,
  updatedAt: o.updatedAt,
  ...(role ? { role } : {}),
});

@Injectable()
export class OrgsService {
  constructor(
    private readonly repo: OrgsRepository,
    private readonly changes: OrgChangeService,
    private readonly snapshots: SnapshotService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async list(user: AuthUser) {
    const memberships = await this.repo.listForUser(user.id, user.token?.orgId);
    return { items: memberships.map((m) => view(m.org, m.role)) };
  }

  async create(user: AuthUser, dto: CreateOrgDto) {
    // The id is chosen here so the org, its owner membership, the activity entry and snapshot
    // version 1 are written in one transaction.
    const orgId = randomUUID();
    await this.changes.run(orgId, user.id, { affectsDataPlane: true }, async (tx, log) => {
      const created = await this.repo.create(tx, user.id, { id: orgId, ...dto });
      await log({ action: 'org.created', targetType: 'org', targetId: orgId, after: view(created) });
    });
    return view(await this.repo.get(orgId), 'owner');
  }

  async get(org: OrgContext) {
    const [row, counts] = await Promise.all([this.repo.get(org.id), this.repo.counts(org.id)]);
    // The aggregated MCP endpoint agents connect to (the dashboard shows it with client snippets).
    const endpoint = `${this.env.PUBLIC_GATEWAY_URL.replace(/\/+$/, '')}/mcp/${row.slug}`;
    return { ...view(row, org.role), counts: counts._count, endpoint };
  }

  async update(user: AuthUser, org: OrgContext, dto: UpdateOrgDto) {
    if ((dto.plan !== undefined || dto.monthlyCallQuota !== undefined) && org.role !== 'owner') {
      throw Problem.forbidden('Only an owner can change the plan or quota');
    }
    const updated = await this.changes.run(org.id, user.id, { affectsDataPlane: true }, async (tx, log) => {
      const before = await tx.organization.findUniqueOrThrow({ where: { id: org.id } });
      const after = await this.repo.update(tx, org.id, dto);
      await log({ action: 'org.updated', targetType: 'org', targetId: org.id, before: view(before), after: view(after) });
      return after;
    });
    return view(updated, org.role);
  }

  async remove(org: OrgContext, dto: DeleteOrgDto) {
    if (dto.confirm !== org.slug) {
      throw new Problem(400, ErrorCode.ValidationFailed, `To delete, confirm with the org slug "${org.slug}"`, {
        errors: [{ path: 'confirm', message: `must equal "${org.slug}"` }],
      });
    }
    // The tombstone row outlives the org, so the API can tell a Redis that lost its data again.
    const tombstone = await this.repo.deleteAfter(org.id, (tx) => this.snapshots.tombstoneInTx(tx, org.id));
    await this.snapshots.publishTombstone(tombstone);
  }
}
