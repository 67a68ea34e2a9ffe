'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { ConfirmButton } from '@/components/client-ui';
import type { KeyView, KeyWithSecret } from '@toolgate/contracts';
import { call } from '@/lib/client';
import { expiryIso } from './key-fields';
import { useShowSecret } from './secret-dialog';

/** Edit / rotate / revoke for one key (owner and admin only; the page decides whether to render it). */
export function KeyActions({ org, k, showEdit = true }: { org: string; k: KeyView; showEdit?: boolean }) {
  const router = useRouter();
  const showSecret = useShowSecret();
  const [newExpiry, setNewExpiry] = useState('');
  if (k.status === 'revoked') return <span className="muted small">—</span>;
  const base = `/v1/orgs/${encodeURIComponent(org)}/keys/${k.id}`;
  const expired = k.status === 'expired';
  return (
    <div className="row" style={{ gap: 6, flexWrap: 'nowrap' }}>
      {showEdit ? (
        <Link className="btn small" href={`/o/${org}/keys/${k.id}`} aria-label={`Edit ${k.name}`}>
          Edit
        </Link>
      ) : null}
      <ConfirmButton
        className="btn small"
        title={`Rotate ${k.name}?`}
        confirmLabel="Rotate key"
        danger={false}
        body={
          <div className="stack">
            <p style={{ margin: 0 }}>
              A new secret is issued with the same name, roles and metadata, and the current secret (<code>{k.prefix}…</code>) stops working
              immediately. Update every agent that uses it.
            </p>
            {expired ? (
              <label className="field">
                <span>New expiry (this key has expired)</span>
                <input type="date" value={newExpiry} onChange={(e) => setNewExpiry(e.target.value)} />
                <span className="hint">Leave empty for a key that does not expire.</span>
              </label>
            ) : null}
          </div>
        }
        onConfirm={async () => {
          const body = expired ? { expiresAt: newExpiry ? expiryIso(newExpiry) : null } : {};
          const created = await call<KeyWithSecret>('POST', `${base}/rotate`, body);
          showSecret({
            title: `New secret for ${created.name}`,
            secret: created.key,
            href: `/o/${org}/keys/${created.id}`,
          });
          router.refresh();
        }}
      >
        Rotate
      </ConfirmButton>
      <ConfirmButton
        className="btn small"
        title={`Revoke ${k.name}?`}
        confirmLabel="Revoke key"
        body={
          <p style={{ margin: 0 }}>
            Agents using <code>{k.prefix}…</code> are refused from now on. This cannot be undone; the key stays listed for the audit trail.
          </p>
        }
        onConfirm={async () => {
          await call('DELETE', base);
          router.refresh();
        }}
      >
        Revoke
      </ConfirmButton>
    </div>
  );
}
