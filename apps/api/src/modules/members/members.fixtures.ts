import type { MemberRole } from '@toolgate/db';
import { type Api, createOrg, signup, type TestUser } from '../../../test/harness';

/** Test fixtures shared by the e2e specs that need an org with one member of each role. */

/** An org with one member of each role, and a stranger with an org of their own. */
export interface Team {
  org: { id: string; slug: string };
  owner: TestUser;
  admin: TestUser;
  member: TestUser;
  billing: TestUser;
  /** Owner of another org, member of nothing here. */
  stranger: TestUser;
  strangerOrg: { id: string; slug: string };
}

/** Adds a user to an org directly in the database (a fixture that does not depend on invitations). */
export async function addMember(api: Api, orgId: string, user: TestUser, role: MemberRole): Promise<void> {
  await api.prisma.db.membership.create({ data: { orgId, userId: user.id, role } });
}

/** The team: the owners created their orgs through the API, the others were added directly. */
export async function team(api: Api, name = 'team'): Promise<Team> {
  const [owner, admin, member, billing, stranger] = await Promise.all(
    ['owner', 'admin', 'member', 'billing', 'stranger'].map((r) => signup(api, `${name}-${r}`)),
  );
  const [org, strangerOrg] = await Promise.all([createOrg(api, owner!), createOrg(api, stranger!)]);
  await Promise.all([
    addMember(api, org.id, admin!, 'admin'),
    addMember(api, org.id, member!, 'member'),
    addMember(api, org.id, billing!, 'billing'),
  ]);
  return { org, owner: owner!, admin: admin!, member: member!, billing: billing!, stranger: stranger!, strangerOrg };
}

/** The org's activity entries with this action, oldest first. */
export function activity(api: Api, orgId: string, action: string) {
  return api.prisma.db.activityLog.findMany({ where: { orgId, action }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

export const ROLES = ['owner', 'admin', 'member', 'billing'] as const;
