import { randomBytes } from 'node:crypto';
import { type RoleRulesInput, sha256Hex } from '@toolgate/contracts';
import type { MemberRole } from '@toolgate/db';
import type { Api, TestUser } from '../../../test/harness';
import { OrgChangeService } from '../snapshots/org-change.service';

/**
 * Test fixtures shared by the roles and policy e2e specs. Rows that belong to other modules
 * (memberships, API keys, servers) are inserted directly so these specs do not depend on those
 * modules' routes; the snapshot is then recompiled through the one real change path.
 */

/** Adds `user` to the org with `role`. */
export const addMember = (api: Api, orgId: string, user: TestUser, role: MemberRole) =>
  api.prisma.db.membership.create({ data: { orgId, userId: user.id, role } });

/** Recompiles and publishes the org's snapshot, as any data-plane change does. */
export const recompile = (api: Api, orgId: string) =>
  api.app.get(OrgChangeService).run(orgId, null, { affectsDataPlane: true }, async () => undefined);

export interface KeyFixture {
  name?: string;
  roleIds?: string[];
  metadata?: Record<string, unknown>;
  expiresAt?: Date | null;
  revokedAt?: Date | null;
}

/** Inserts an API key (with its role assignments); call recompile() to put it in the snapshot. */
export async function insertKey(api: Api, orgId: string, fixture: KeyFixture = {}) {
  const secret = `tg_${randomBytes(20).toString('hex')}`;
  return api.prisma.db.apiKey.create({
    data: {
      orgId,
      name: fixture.name ?? `key-${randomBytes(3).toString('hex')}`,
      prefix: secret.slice(0, 11),
      hash: sha256Hex(secret),
      metadata: (fixture.metadata ?? {}) as never,
      expiresAt: fixture.expiresAt ?? null,
      revokedAt: fixture.revokedAt ?? null,
      roles: { create: (fixture.roleIds ?? []).map((roleId) => ({ orgId, roleId })) },
    },
  });
}

/** Inserts an enabled stdio server with this slug. */
export const insertServer = (api: Api, orgId: string, slug: string) =>
  api.prisma.db.mcpServer.create({ data: { orgId, slug, name: slug, transport: 'stdio', command: 'true' } });

/** Creates a role through the API and returns its view. */
export async function createRole(api: Api, org: string, user: TestUser, name: string, rules: RoleRulesInput, description?: string) {
  const res = await api
    .req()
    .post(`/v1/orgs/${org}/roles`)
    .set(user.auth)
    .send({ name, rules, ...(description === undefined ? {} : { description }) });
  if (res.status !== 201) throw new Error(`creating role ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; name: string; description: string | null; rules: unknown; keyCount: number };
}
