'use client';

import { useRouter } from 'next/navigation';
import { ConfirmButton } from '@/components/client-ui';
import { call } from '@/lib/client';

export function DeleteAuditWebhook({ org, id, url }: { org: string; id: string; url: string }) {
  const router = useRouter();
  return (
    <ConfirmButton
      className="btn small danger"
      title="Delete this webhook?"
      confirmLabel="Delete webhook"
      body={
        <p style={{ margin: 0, overflowWrap: 'anywhere' }}>
          <code>{url}</code> stops receiving audit events. Its delivery log is deleted with it.
        </p>
      }
      onConfirm={async () => {
        await call('DELETE', `/v1/orgs/${encodeURIComponent(org)}/audit/webhooks/${encodeURIComponent(id)}`);
        router.refresh();
      }}
    >
      Delete
    </ConfirmButton>
  );
}
