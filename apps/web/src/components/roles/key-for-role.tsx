'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { ClientSnippets } from '@/components/client-snippets';
import { SecretOnce } from '@/components/client-ui';
import { call } from '@/lib/client';
import type { KeyWithSecret, RoleView } from '@toolgate/contracts';

/** A key that holds one role, named after it, no expiry, no metadata: all editable on the key's page. */
export function createKeyForRole(org: string, role: Pick<RoleView, 'id' | 'name'>): Promise<KeyWithSecret> {
  return call<KeyWithSecret>('POST', `/v1/orgs/${encodeURIComponent(org)}/keys`, { name: `${role.name}-key`, roleIds: [role.id] });
}

/** A new key's secret, shown once, filled into ready client configs. */
export function RoleKeyReveal({
  org,
  role,
  created,
  endpoint,
  onDone,
}: {
  org: string;
  role: Pick<RoleView, 'name'>;
  created: KeyWithSecret;
  endpoint: string;
  onDone: () => void;
}) {
  return (
    <section className="card stack" aria-labelledby="role-key-title" data-testid="role-key">
      <h2 id="role-key-title" style={{ margin: 0 }}>
        Key “{created.name}” created with role {role.name}
      </h2>
      <SecretOnce label="Your new agent key" value={created.key} />
      <ClientSnippets endpoint={endpoint} name={`toolgate-${org}`} secret={created.key} />
      <div className="row">
        <Link href={`/o/${org}/keys/${created.id}`}>Open the key</Link>
        <span className="spacer" />
        <button type="button" className="btn" onClick={onDone}>
          I have stored it
        </button>
      </div>
    </section>
  );
}

/** The step after writing a role: one click makes a key that holds it and shows its secret once. */
export function KeyForRole({ org, role, endpoint }: { org: string; role: Pick<RoleView, 'id' | 'name'>; endpoint: string }) {
  const router = useRouter();
  const [created, setCreated] = useState<KeyWithSecret | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function create() {
    setBusy(true);
    setError(null);
    try {
      setCreated(await createKeyForRole(org, role));
      router.refresh();
    } catch (err) {
      setError(err instanceof Error ? err.message : 'Something went wrong.');
    } finally {
      setBusy(false);
    }
  }

  if (created) return <RoleKeyReveal org={org} role={role} created={created} endpoint={endpoint} onDone={() => setCreated(null)} />;
  return (
    <div className="row" style={{ marginBottom: 16 }}>
      <button type="button" className="btn primary" onClick={create} disabled={busy}>
        {busy ? 'Creating…' : 'Create a key with this role'}
      </button>
      <span className="muted small">or give it to existing keys on their pages.</span>
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : null}
    </div>
  );
}
