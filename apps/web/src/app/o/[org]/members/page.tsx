import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { InvitationTable } from '@/components/members/invitation-table';
import { InviteForm } from '@/components/members/invite-form';
import { MemberTable } from '@/components/members/member-table';
import type { InvitationView, MemberView } from '@toolgate/contracts';
import { Card, Notice, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Members' };

export default async function MembersPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { me, org } = await getMembership(slug);
  if (!org) notFound();
  const manage = can.manage(org.role);
  const o = encodeURIComponent(org.slug);
  const [members, invitations] = await Promise.all([
    api<{ items: MemberView[] }>(`/v1/orgs/${o}/members`),
    manage ? api<{ items: InvitationView[] }>(`/v1/orgs/${o}/invitations`) : Promise.resolve(null),
  ]);
  const owners = members.items.filter((m) => m.role === 'owner').length;

  return (
    <>
      <PageHeader title="Members" description={`People who can open ${org.name} in this dashboard. Agents use keys, not memberships.`} />
      {manage ? (
        <Card title="Invite someone" id="invite">
          <InviteForm org={org.slug} actorRole={org.role} />
        </Card>
      ) : (
        <Notice kind="info">Only owners and admins invite people and change roles. You can see who is here, and leave.</Notice>
      )}
      <Card title={`Members (${members.items.length})`} id="members">
        {owners === 1 && org.role === 'owner' ? (
          <p className="small muted" style={{ marginTop: 0 }}>
            You are the only owner. Make another member an owner before you leave or give up the owner role.
          </p>
        ) : null}
        <MemberTable org={org.slug} orgName={org.name} members={members.items} meId={me.id} actorRole={org.role} />
      </Card>
      {invitations ? (
        <Card title="Pending invitations" id="invitations">
          <InvitationTable org={org.slug} items={invitations.items} actorRole={org.role} />
        </Card>
      ) : null}
    </>
  );
}
