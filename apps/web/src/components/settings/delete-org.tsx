'use client';

import { ConfirmButton } from '@/components/client-ui';
import { call } from '@/lib/client';

/** Owners delete the organisation after typing its slug (the API checks the same confirmation). */
export function DeleteOrg({ org, name }: { org: string; name: string }) {
  return (
    <ConfirmButton
      className="btn danger"
      title={`Delete ${name}?`}
      body={
        <p style={{ margin: 0 }}>
          This deletes {name} with its MCP servers, secrets, agent keys, roles and audit log. Agents lose access at once. It cannot be
          undone.
        </p>
      }
      confirmText={org}
      confirmLabel="Delete organisation"
      onConfirm={async () => {
        await call('DELETE', `/v1/orgs/${encodeURIComponent(org)}`, { confirm: org });
        // A full load: the org list in the sidebar and switcher must forget it.
        window.location.assign('/orgs');
      }}
    >
      Delete organisation
    </ConfirmButton>
  );
}
