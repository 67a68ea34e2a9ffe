'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { ConfirmButton } from '@/components/client-ui';
import { formatDate } from '@/components/ui';
import { call, errorMessage } from '@/lib/client';
import type { MemberRole } from '@/lib/access';
import type { MemberView } from '@toolgate/contracts';
import { grantable } from './roles';

/**
 * The member list. Managers change roles and remove members; everyone may leave. Controls mirror
 * the API's rules (admins do not touch owners, only owners grant the owner role); the API stays
 * the authority, and what it refuses (the last owner) is shown in its own words.
 */
export function MemberTable({
  org,
  orgName,
  members,
  meId,
  actorRole,
}: {
  org: string;
  orgName: string;
  members: MemberView[];
  meId: string;
  actorRole: MemberRole;
}) {
  const router = useRouter();
  const [pending, setPending] = useState<Record<string, MemberRole>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const o = encodeURIComponent(org);
  // Not `can` from lib/me: that module is server-only (it fetches); the rule is the same.
  const manage = actorRole === 'owner' || actorRole === 'admin';

  async function changeRole(m: MemberView, role: MemberRole) {
    setPending((p) => ({ ...p, [m.userId]: role }));
    setError(null);
    setDone(null);
    try {
      await call('PATCH', `/v1/orgs/${o}/members/${m.userId}`, { role });
      setDone(`${m.userId === meId ? 'You are' : `${m.name} is`} now ${role}.`);
      router.refresh();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setPending((p) => {
        const { [m.userId]: _, ...rest } = p;
        return rest;
      });
    }
  }

  async function remove(m: MemberView) {
    setError(null);
    setDone(null);
    await call('DELETE', `/v1/orgs/${o}/members/${m.userId}`);
    if (m.userId === meId) {
      // Gone from this org: its pages no longer open for this person.
      window.location.assign('/orgs');
      return;
    }
    setDone(`${m.name} was removed from ${orgName}.`);
    router.refresh();
  }

  return (
    <div className="stack">
      {error ? (
        <div className="notice error" role="alert" data-testid="members-error" style={{ marginBottom: 0 }}>
          {error}
        </div>
      ) : null}
      {done ? (
        <div className="notice ok" role="status" style={{ marginBottom: 0 }}>
          {done}
        </div>
      ) : null}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Person</th>
              <th scope="col">Role</th>
              <th scope="col">Joined</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.map((m) => {
              const self = m.userId === meId;
              const touchesOwner = m.role === 'owner' && actorRole !== 'owner';
              const editable = manage && !touchesOwner;
              const value = pending[m.userId] ?? m.role;
              return (
                <tr key={m.userId} data-testid="member-row" data-email={m.email}>
                  <td style={{ minWidth: 180 }}>
                    {m.name} {self ? <span className="badge info">you</span> : null}
                    <div className="mono small muted" style={{ overflowWrap: 'anywhere' }}>
                      {m.email}
                    </div>
                  </td>
                  <td>
                    {editable ? (
                      <select
                        aria-label={`Role of ${m.name}`}
                        value={value}
                        disabled={m.userId in pending}
                        onChange={(e) => changeRole(m, e.target.value as MemberRole)}
                      >
                        {grantable(actorRole).map((r) => (
                          <option key={r.value} value={r.value}>
                            {r.label}
                          </option>
                        ))}
                      </select>
                    ) : (
                      <span className={`badge ${m.role === 'owner' ? 'info' : ''}`} data-testid="member-role">
                        {m.role}
                      </span>
                    )}
                  </td>
                  <td className="small muted" style={{ whiteSpace: 'nowrap' }}>
                    <time dateTime={m.joinedAt} title={formatDate(m.joinedAt)}>
                      {formatDate(m.joinedAt).slice(0, 10)}
                    </time>
                  </td>
                  <td>
                    {/* A flex row, not text-align/nowrap on the cell: the confirm dialogs inherit the cell's text styles. */}
                    <div className="row" style={{ justifyContent: 'flex-end', flexWrap: 'nowrap' }}>
                      {self ? (
                        <ConfirmButton
                          className="btn small"
                          title={`Leave ${orgName}?`}
                          body={<p style={{ margin: 0 }}>You will lose access to {orgName} until someone invites you again.</p>}
                          confirmLabel="Leave"
                          onConfirm={() => remove(m)}
                        >
                          Leave organisation
                        </ConfirmButton>
                      ) : editable ? (
                        <ConfirmButton
                          className="btn small danger"
                          title={`Remove ${m.name}?`}
                          body={
                            <p style={{ margin: 0 }}>
                              {m.name} ({m.email}) will lose access to {orgName}. Agent keys are not affected.
                            </p>
                          }
                          confirmLabel="Remove"
                          onConfirm={() => remove(m)}
                        >
                          Remove
                        </ConfirmButton>
                      ) : null}
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
