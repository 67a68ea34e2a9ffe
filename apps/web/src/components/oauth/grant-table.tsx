import type { OAuthGrantView } from '@toolgate/contracts';
import Link from 'next/link';
import { relativeTime } from '@/components/keys/format';
import { Badge, formatDate } from '@/components/ui';
import { hostOf } from '@/lib/oauth';
import { RevokeGrant } from './revoke-grant';

/** The connected apps list; the revoke action only for roles that may manage the org. */
export function GrantTable({ org, grants, manage }: { org: string; grants: OAuthGrantView[]; manage: boolean }) {
  const now = Date.now();
  return (
    <div className="table-wrap">
      <table data-testid="grants-table">
        <thead>
          <tr>
            <th>App</th>
            <th>Endpoint</th>
            <th>Roles</th>
            <th>Consented by</th>
            <th>Connected</th>
            <th>Last used</th>
            {manage ? <th>Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {grants.map((g) => (
            <tr key={g.id} data-testid="grant-row" data-grant-id={g.id}>
              <td>
                <strong>{g.client.name}</strong>
                {hostOf(g.client.uri) ? <div className="muted small mono">{hostOf(g.client.uri)}</div> : null}
                {g.revokedAt ? (
                  <div>
                    <Badge kind="danger">revoked</Badge>
                  </div>
                ) : null}
              </td>
              <td className="mono" style={{ wordBreak: 'break-all' }}>
                {g.resource}
              </td>
              <td>
                <span className="row" style={{ gap: 4 }}>
                  {g.roles.map((r) => (
                    <Link key={r.id} href={`/o/${org}/roles/${r.id}`} className="badge info">
                      {r.name}
                    </Link>
                  ))}
                </span>
              </td>
              <td>{g.consentedBy.email}</td>
              <td title={formatDate(g.createdAt)} style={{ whiteSpace: 'nowrap' }}>
                {relativeTime(g.createdAt, now)}
              </td>
              <td title={formatDate(g.lastUsedAt)} style={{ whiteSpace: 'nowrap' }}>
                {g.lastUsedAt ? relativeTime(g.lastUsedAt, now) : <span className="muted">never</span>}
              </td>
              {manage ? <td>{g.revokedAt ? <span className="muted small">—</span> : <RevokeGrant org={org} grant={g} />}</td> : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
