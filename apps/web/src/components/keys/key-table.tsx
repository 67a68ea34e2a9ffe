import Link from 'next/link';
import type { KeyView } from '@toolgate/contracts';
import { Badge, formatDate } from '@/components/ui';
import { relativeTime } from './format';
import { KeyActions } from './key-actions';

export function StatusBadge({ status }: { status: KeyView['status'] }) {
  const kind = status === 'active' ? 'ok' : status === 'expired' ? 'warn' : 'danger';
  return <Badge kind={kind}>{status}</Badge>;
}

export function MetadataList({ metadata }: { metadata: KeyView['metadata'] }) {
  const entries = Object.entries(metadata);
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <span className="row" style={{ gap: 4 }}>
      {entries.map(([k, v]) => (
        <code key={k} className="badge" style={{ fontFamily: 'var(--mono)' }}>
          {k}={String(v)}
        </code>
      ))}
    </span>
  );
}

/** The keys list; rows link to the key's page; actions only for roles that may manage keys. */
export function KeyTable({ org, keys, manage }: { org: string; keys: KeyView[]; manage: boolean }) {
  const now = Date.now();
  return (
    <div className="table-wrap">
      <table data-testid="keys-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            <th>Roles</th>
            <th>Prefix</th>
            <th>Metadata</th>
            <th>Expires</th>
            <th>Last used</th>
            {manage ? <th>Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id} data-testid="key-row" data-key-id={k.id}>
              <td>
                <Link href={`/o/${org}/keys/${k.id}`}>{k.name}</Link>
              </td>
              <td style={{ whiteSpace: 'nowrap' }}>
                <StatusBadge status={k.status} />
                {k.rotatedToId ? (
                  <Link href={`/o/${org}/keys/${k.rotatedToId}`} className="small" style={{ marginLeft: 6 }}>
                    rotated
                  </Link>
                ) : null}
              </td>
              <td>
                {k.roles.length === 0 ? (
                  <span className="muted">none</span>
                ) : (
                  <span className="row" style={{ gap: 4 }}>
                    {k.roles.map((r) => (
                      <Link key={r.id} href={`/o/${org}/roles/${r.id}`} className="badge info">
                        {r.name}
                      </Link>
                    ))}
                  </span>
                )}
              </td>
              <td className="mono">{k.prefix}…</td>
              <td>
                <MetadataList metadata={k.metadata} />
              </td>
              <td title={formatDate(k.expiresAt)} style={{ whiteSpace: 'nowrap' }}>
                {k.status === 'revoked' ? (
                  <span className="muted">—</span>
                ) : k.expiresAt ? (
                  relativeTime(k.expiresAt, now)
                ) : (
                  <span className="muted">never</span>
                )}
              </td>
              <td title={formatDate(k.lastUsedAt)} style={{ whiteSpace: 'nowrap' }}>
                {k.lastUsedAt ? relativeTime(k.lastUsedAt, now) : <span className="muted">never</span>}
              </td>
              {manage ? (
                <td>
                  <KeyActions org={org} k={k} />
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
