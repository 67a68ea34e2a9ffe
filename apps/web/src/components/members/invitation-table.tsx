'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { ConfirmButton } from '@/components/client-ui';
import { Empty, formatDate } from '@/components/ui';
import { call } from '@/lib/client';
import type { MemberRole } from '@/lib/access';
import type { InvitationView } from '@toolgate/contracts';

/** Pending invitations with revoke (only an owner revokes an invitation to become an owner). */
export function InvitationTable({ org, items, actorRole }: { org: string; items: InvitationView[]; actorRole: MemberRole }) {
  const router = useRouter();
  const [done, setDone] = useState<string | null>(null);
  if (items.length === 0) {
    return (
      <>
        {done ? (
          <div className="notice ok" role="status">
            {done}
          </div>
        ) : null}
        <Empty title="No pending invitations">Invitations appear here until they are accepted, revoked or expire.</Empty>
      </>
    );
  }
  return (
    <div className="stack">
      {done ? (
        <div className="notice ok" role="status" style={{ marginBottom: 0 }}>
          {done}
        </div>
      ) : null}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Invited by</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((i) => (
              <tr key={i.id} data-testid="invitation-row" data-email={i.email}>
                <td className="mono small">{i.email}</td>
                <td>
                  <span className="badge">{i.role}</span>
                </td>
                <td className="small">{i.invitedBy?.name ?? '—'}</td>
                <td className="small muted">{formatDate(i.expiresAt)}</td>
                <td>
                  <div className="row" style={{ justifyContent: 'flex-end' }}>
                    {i.role !== 'owner' || actorRole === 'owner' ? (
                      <ConfirmButton
                        className="btn small"
                        title={`Revoke the invitation for ${i.email}?`}
                        body={<p style={{ margin: 0 }}>The link stops working at once. You can invite them again later.</p>}
                        confirmLabel="Revoke"
                        onConfirm={async () => {
                          await call('DELETE', `/v1/orgs/${encodeURIComponent(org)}/invitations/${i.id}`);
                          setDone(`The invitation for ${i.email} was revoked.`);
                          router.refresh();
                        }}
                      >
                        Revoke
                      </ConfirmButton>
                    ) : null}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
