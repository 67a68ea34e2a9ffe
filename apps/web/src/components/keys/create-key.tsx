'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import Link from 'next/link';
import { ClientSnippets } from '@/components/client-snippets';
import { SecretOnce } from '@/components/client-ui';
import type { KeyWithSecret } from '@toolgate/contracts';
import { call } from '@/lib/client';
import { keyErrors } from './api-errors';
import { draftFrom, expiryIso, KeyFields, metadataOf, validateDraft } from './key-fields';

/** "New key" → form → the secret, shown once, with how to use it. */
export function CreateKey({
  org,
  roles,
  endpoint,
}: {
  org: string;
  roles: { id: string; name: string; description: string | null }[];
  endpoint: string;
}) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState(draftFrom);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<KeyWithSecret | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const found = validateDraft(draft, { expiryChanged: true });
    setErrors(found);
    setGeneral(null);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      const key = await call<KeyWithSecret>('POST', `/v1/orgs/${encodeURIComponent(org)}/keys`, {
        name: draft.name.trim(),
        roleIds: draft.roleIds,
        metadata: metadataOf(draft.meta),
        ...(draft.expires ? { expiresAt: expiryIso(draft.expires) } : {}),
      });
      setCreated(key);
      setDraft(draftFrom());
      router.refresh();
    } catch (err) {
      const { fields, general } = keyErrors(err);
      setErrors(fields);
      setGeneral(general);
    } finally {
      setBusy(false);
    }
  }

  if (created) {
    return (
      <section className="card stack" aria-labelledby="created-key-title">
        <h2 id="created-key-title" style={{ margin: 0 }}>
          Key “{created.name}” created
        </h2>
        <SecretOnce label="Your new agent key" value={created.key} />
        <p className="muted small" style={{ margin: 0 }}>
          Agents send it as <code>Authorization: Bearer &lt;key&gt;</code> to <code style={{ overflowWrap: 'anywhere' }}>{endpoint}</code>.
          Or paste a ready config:
        </p>
        <ClientSnippets endpoint={endpoint} name={`toolgate-${org}`} secret={created.key} />
        <div>
          <button
            type="button"
            className="btn"
            onClick={() => {
              setCreated(null);
              setOpen(false);
            }}
          >
            I have stored it
          </button>
        </div>
      </section>
    );
  }

  if (!open) {
    return (
      <div style={{ marginBottom: 16 }}>
        <button type="button" className="btn primary" onClick={() => setOpen(true)}>
          New key
        </button>
      </div>
    );
  }

  return (
    <section className="card" aria-labelledby="new-key-title">
      <h2 id="new-key-title">New agent key</h2>
      <form
        className="stack"
        onSubmit={submit}
        // What was said about the last attempt is stale once the person edits again.
        onChange={() => {
          setGeneral(null);
          setErrors({});
        }}
        noValidate
        aria-label="Create agent key"
      >
        {general ? (
          <div className="notice error" role="alert">
            {general}
          </div>
        ) : null}
        <KeyFields draft={draft} onChange={setDraft} roles={roles} errors={errors} orgSlug={org} />
        {draft.roleIds.length === 0 ? (
          // Said before submit: the API accepts a role-less key, and it then fails at the agent, far from here.
          <div className="notice warn" data-testid="no-role-warning">
            This key can call nothing until it has a role: the gateway denies every call it makes. Tick a role above, or{' '}
            <Link href={`/o/${org}/roles`}>set up roles</Link> and add one to the key later.
          </div>
        ) : null}
        <div className="row">
          <button type="submit" className="btn primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
          <button type="button" className="btn" onClick={() => setOpen(false)}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}
