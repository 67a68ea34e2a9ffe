'use client';

import type { ManagementTokenView } from '@toolgate/contracts/src/management-tokens';
import { useRouter } from 'next/navigation';
import { ConfirmButton } from '@/components/client-ui';
import { relativeTime } from '@/components/keys/format';
import { Badge, formatDate } from '@/components/ui';
import { call } from '@/lib/client';

function StatusBadge({ status }: { status: ManagementTokenView['status'] }) {
  return <Badge kind={status === 'active' ? 'ok' : status === 'expired' ? 'warn' : 'danger'}>{status}</Badge>;
}

/** Service accounts of an org, or a person's own tokens (`personal`: shows each token's org). */
export function TokenTable({ tokens, personal = false }: { tokens: ManagementTokenView[]; personal?: boolean }) {
  const router = useRouter();
  const now = Date.now();
  return (
    <div className="table-wrap">
      <table data-testid="tokens-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            {personal ? <th>Organisation</th> : null}
            <th>Scopes</th>
            <th>Prefix</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Expires</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id} data-testid="token-row">
              <td>{t.name}</td>
              <td>
                <StatusBadge status={t.status} />
              </td>
              {personal ? <td className="mono">{t.org.slug}</td> : null}
              <td className="mono">{t.scopes.join(', ')}</td>
              <td className="mono">{t.prefix}…</td>
              <td title={formatDate(t.createdAt)} style={{ whiteSpace: 'nowrap' }}>
                {relativeTime(t.createdAt, now)}
              </td>
              <td title={formatDate(t.lastUsedAt)} style={{ whiteSpace: 'nowrap' }}>
                {relativeTime(t.lastUsedAt, now)}
              </td>
              <td title={formatDate(t.expiresAt)} style={{ whiteSpace: 'nowrap' }}>
                {relativeTime(t.expiresAt, now)}
              </td>
              <td>
                {t.status === 'revoked' ? (
                  <span className="muted small">—</span>
                ) : (
                  <ConfirmButton
                    className="btn small"
                    title={`Revoke ${t.name}?`}
                    confirmLabel="Revoke token"
                    body={
                      <p style={{ margin: 0 }}>
                        Requests with <code>{t.prefix}…</code> are refused from now on. This cannot be undone; the token stays listed for
                        the activity log.
                      </p>
                    }
                    onConfirm={async () => {
                      await call(
                        'DELETE',
                        personal ? `/v1/me/tokens/${t.id}` : `/v1/orgs/${encodeURIComponent(t.org.slug)}/tokens/${t.id}`,
                      );
                      router.refresh();
                    }}
                  >
                    Revoke
                  </ConfirmButton>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
