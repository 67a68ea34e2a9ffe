'use client';

import type { OAuthGrantView } from '@toolgate/contracts';
import { useRouter } from 'next/navigation';
import { ConfirmButton } from '@/components/client-ui';
import { call } from '@/lib/client';

/** Revoke with confirmation (owner and admin only; the page decides whether to render it). */
export function RevokeGrant({ org, grant }: { org: string; grant: OAuthGrantView }) {
  const router = useRouter();
  return (
    <ConfirmButton
      className="btn small"
      title={`Disconnect ${grant.client.name}?`}
      confirmLabel="Revoke access"
      body={
        <p style={{ margin: 0 }}>
          Its access and refresh tokens stop working within a second, and it cannot get new ones. To use it again, someone connects it again
          and approves it.
        </p>
      }
      onConfirm={async () => {
        await call('DELETE', `/v1/orgs/${encodeURIComponent(org)}/oauth/grants/${encodeURIComponent(grant.id)}`);
        router.refresh();
      }}
    >
      Revoke
    </ConfirmButton>
  );
}
