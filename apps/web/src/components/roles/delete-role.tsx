'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { ConfirmButton } from '@/components/client-ui';
import { call } from '@/lib/client';
import { ApiError } from '@/lib/problem';

/**
 * Deletes a role. The API refuses (409, naming the keys) while active keys hold it; the person
 * can then tick "take it off those keys", which is the API's `?force=true`.
 */
export function DeleteRole({ org, id, name, keyCount }: { org: string; id: string; name: string; keyCount: number }) {
  const router = useRouter();
  const [force, setForce] = useState(false);
  return (
    <ConfirmButton
      title={`Delete role ${name}?`}
      confirmLabel="Delete role"
      body={
        <div className="stack">
          <p style={{ margin: 0 }}>
            Keys that hold <code>{name}</code> lose the permissions it grants. This cannot be undone.
          </p>
          {keyCount > 0 ? (
            <label className="row" style={{ gap: 6 }}>
              <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
              <span>
                Also take it off the {keyCount} key{keyCount === 1 ? '' : 's'} that hold{keyCount === 1 ? 's' : ''} it
              </span>
            </label>
          ) : null}
        </div>
      }
      onConfirm={async () => {
        try {
          await call('DELETE', `/v1/orgs/${encodeURIComponent(org)}/roles/${id}${force ? '?force=true' : ''}`);
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) {
            // The API's sentence names the keys; its "?force=true" is the checkbox here.
            throw new Error(err.message.replace(/or delete with \?force=true to detach it\./, 'or tick the box above to detach it.'));
          }
          throw err;
        }
        router.push(`/o/${org}/roles`);
        router.refresh();
      }}
    >
      Delete role
    </ConfirmButton>
  );
}
