'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { OrgSlug, slugify } from '@toolgate/contracts/src/slug';
import { call, errorMessage } from '@/lib/client';

export function CreateOrgForm({ autoFocus }: { autoFocus?: boolean }) {
  const router = useRouter();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [slugTouched, setSlugTouched] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const effectiveSlug = slugTouched ? slug : slugify(name);
  const slugIssue = effectiveSlug ? OrgSlug.safeParse(effectiveSlug).error?.issues[0] : undefined;
  const slugError = slugIssue ? `The URL name ${slugIssue.message}.` : null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!name.trim()) return setError('Enter a name for the organisation.');
    if (!effectiveSlug || slugError) return setError(slugError ?? 'Choose a URL name.');
    setBusy(true);
    setError(null);
    try {
      const org = await call<{ slug: string }>('POST', '/v1/orgs', { name: name.trim(), slug: effectiveSlug });
      router.push(`/o/${org.slug}`);
      router.refresh();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label="Create organisation">
      {error ? (
        <div className="notice error" role="alert">
          {error}
        </div>
      ) : null}
      <label className="field">
        <span>Organisation name</span>
        {/* biome-ignore lint/a11y/noAutofocus: the only task on this page */}
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} maxLength={120} autoFocus={autoFocus} required />
      </label>
      <label className="field">
        <span>URL name</span>
        <input
          name="slug"
          value={effectiveSlug}
          onChange={(e) => {
            setSlugTouched(true);
            setSlug(e.target.value.toLowerCase());
          }}
          aria-invalid={slugError ? true : undefined}
          required
        />
        <span className={slugError ? 'field-error' : 'hint'}>{slugError ?? `Agents connect at /mcp/${effectiveSlug || 'your-org'}`}</span>
      </label>
      <div>
        <button className="btn primary" type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create organisation'}
        </button>
      </div>
    </form>
  );
}
