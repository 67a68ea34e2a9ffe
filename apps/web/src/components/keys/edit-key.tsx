'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import type { KeyView } from '@toolgate/contracts';
import { call } from '@/lib/client';
import { keyErrors } from './api-errors';
import { draftFrom, expiryIso, KeyFields, metadataOf, validateDraft } from './key-fields';

/** PATCH name, roles, metadata and expiry of a key that is not revoked. */
export function EditKey({ org, k, roles }: { org: string; k: KeyView; roles: { id: string; name: string; description: string | null }[] }) {
  const router = useRouter();
  const initial = draftFrom(k);
  const [draft, setDraft] = useState(initial);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const expiryChanged = draft.expires !== initial.expires;
    const found = validateDraft(draft, { expiryChanged });
    setErrors(found);
    setGeneral(null);
    setSaved(false);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      await call('PATCH', `/v1/orgs/${encodeURIComponent(org)}/keys/${k.id}`, {
        name: draft.name.trim(),
        roleIds: draft.roleIds,
        metadata: metadataOf(draft.meta),
        // Only a changed expiry is sent: an unchanged one may already lie in the past.
        ...(expiryChanged ? { expiresAt: draft.expires ? expiryIso(draft.expires) : null } : {}),
      });
      setSaved(true);
      router.refresh();
    } catch (err) {
      const { fields, general } = keyErrors(err);
      setErrors(fields);
      setGeneral(general);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="stack"
      onSubmit={submit}
      // What was said about the last attempt is stale once the person edits again.
      onChange={() => {
        setGeneral(null);
        setSaved(false);
        setErrors({});
      }}
      noValidate
      aria-label="Edit agent key"
    >
      {general ? (
        <div className="notice error" role="alert">
          {general}
        </div>
      ) : null}
      {saved ? (
        <div className="notice ok" role="status">
          Saved. The gateway applies the change to the next call.
        </div>
      ) : null}
      <KeyFields draft={draft} onChange={setDraft} roles={roles} errors={errors} orgSlug={org} />
      <div>
        <button type="submit" className="btn primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save changes'}
        </button>
      </div>
    </form>
  );
}
