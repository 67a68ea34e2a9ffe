'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { OrgSlug, slugify } from '@toolgate/contracts/src/slug';
import { call } from '@/lib/client';
import { problemFields } from '@/lib/form-errors';

export function CreateOrgForm({ autoFocus }: { autoFocus?: boolean }) {
  const router = useRouter();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [slugTouched, setSlugTouched] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<{ name?: string; slug?: string }>({});
  const [busy, setBusy] = useState(false);
  const effectiveSlug = slugTouched ? slug : slugify(name);
  const slugIssue = effectiveSlug ? OrgSlug.safeParse(effectiveSlug).error?.issues[0] : undefined;
  const slugError = slugIssue ? `The URL name ${slugIssue.message}.` : (fields.slug ?? null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!name.trim()) return setFields({ name: 'Enter a name for the organisation.' });
    if (!effectiveSlug || slugError) return setFields({ slug: slugError ?? 'Choose a URL name.' });
    setBusy(true);
    setError(null);
    try {
      const org = await call<{ slug: string }>('POST', '/v1/orgs', { name: name.trim(), slug: effectiveSlug });
      router.push(`/o/${org.slug}`);
      router.refresh();
    } catch (err) {
      const p = problemFields(err, ['name', 'slug'] as const);
      setFields(p.fields);
      setError(p.general);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="stack"
      onSubmit={submit}
      // What was said about the last attempt no longer holds once the person edits.
      onChange={() => {
        setError(null);
        setFields({});
      }}
      noValidate
      aria-label="Create organisation"
    >
      {error ? (
        <div className="notice error" role="alert">
          {error}
        </div>
      ) : null}
      <label className="field">
        <span>Organisation name</span>
        <input
          name="name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={120}
          // biome-ignore lint/a11y/noAutofocus: the only task on this page
          autoFocus={autoFocus}
          required
          aria-invalid={fields.name ? true : undefined}
          aria-describedby={fields.name ? 'org-name-err' : undefined}
        />
        {fields.name ? (
          <span className="field-error" id="org-name-err">
            {fields.name}
          </span>
        ) : null}
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
          aria-describedby="org-slug-msg"
          required
        />
        <span className={slugError ? 'field-error' : 'hint'} id="org-slug-msg">
          {slugError ?? `Agents connect at /mcp/${effectiveSlug || 'your-org'}`}
        </span>
      </label>
      <div>
        <button className="btn primary" type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create organisation'}
        </button>
      </div>
    </form>
  );
}
