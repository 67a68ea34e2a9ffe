import type { MemberRole } from '@toolgate/db';
import { type Api, createOrg, signup, type TestUser } from '../../../test/harness';

/** Test fixtures shared by the members and invitations e2e specs. */

export interface Team {
  org: { id: string; slug: string };
  owner: TestUser;
  admin: TestUser;
  member: TestUser;
  billing: TestUser;
}

/** Adds a user to an org directly in the database (a fixture that does not depend on invitations). */
export async function addMember(api: Api, orgId: string, user: TestUser, role: MemberRole): Promise<void> {
  await api.prisma.db.membership.create({ data: { orgId, userId: user.id, role } });
}

/** An org with one user of each role; the owner created it through the API. */
export async function team(api: Api, name = 'team'): Promise<Team> {
  const owner = await signup(api, `${name}-owner`);
  const org = await createOrg(api, owner);
  const [admin, member, billing] = await Promise.all([
    signup(api, `${name}-admin`),
    signup(api, `${name}-member`),
    signup(api, `${name}-billing`),
  ]);
  await addMember(api, org.id, admin, 'admin');
  await addMember(api, org.id, member, 'member');
  await addMember(api, org.id, billing, 'billing');
  return { org, owner, admin, member, billing };
}

/** The org's activity entries with this action, oldest first. */
export function activity(api: Api, orgId: string, action: string) {
  return api.prisma.db.activityLog.findMany({ where: { orgId, action }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

export const ROLES = ['owner', 'admin', 'member', 'billing'] as const;
