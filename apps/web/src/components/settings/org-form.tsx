'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { OrgSlug } from '@toolgate/contracts/src/slug';
import { call } from '@/lib/client';
import { problemFields } from '@/lib/form-errors';

/** Name and URL name (slug). A new slug moves every URL, including the MCP endpoint agents use. */
export function OrgForm({ org, name: initialName }: { org: string; name: string }) {
  const router = useRouter();
  const [name, setName] = useState(initialName);
  const [slug, setSlug] = useState(org);
  const [errors, setErrors] = useState<{ name?: string; slug?: string }>({});
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const slugChanged = slug !== org;

  async function submit(e: FormEvent) {
    e.preventDefault();
    const errs: typeof errors = {};
    if (!name.trim()) errs.name = 'Enter a name.';
    else if (name.trim().length > 120) errs.name = 'Use at most 120 characters.';
    const slugIssue = OrgSlug.safeParse(slug).error?.issues[0];
    if (slugIssue) errs.slug = `The URL name ${slugIssue.message}.`;
    setErrors(errs);
    setSaved(false);
    if (Object.keys(errs).length) return;
    const body: Record<string, string> = {};
    if (name.trim() !== initialName) body.name = name.trim();
    if (slugChanged) body.slug = slug;
    if (!Object.keys(body).length) return setError('Nothing changed.');
    setBusy(true);
    setError(null);
    try {
      const updated = await call<{ slug: string }>('PATCH', `/v1/orgs/${encodeURIComponent(org)}`, body);
      if (updated.slug !== org) {
        router.replace(`/o/${updated.slug}/settings`);
      } else {
        setSaved(true);
      }
      router.refresh();
    } catch (err) {
      const p = problemFields(err, ['name', 'slug'] as const);
      setErrors(p.fields);
      setError(p.general);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="stack"
      onSubmit={submit}
      // A banner about the last save (or its failure) is stale once the person edits again.
      onChange={() => {
        setError(null);
        setSaved(false);
        setErrors({});
      }}
      noValidate
      aria-label="Organisation settings"
    >
      {error ? (
        <div className="notice error" role="alert" style={{ margin: 0 }}>
          {error}
        </div>
      ) : null}
      {saved ? (
        <div className="notice ok" role="status" style={{ margin: 0 }}>
          Saved.
        </div>
      ) : null}
      <label className="field">
        <span>Organisation name</span>
        <input
          name="name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={120}
          aria-invalid={errors.name ? true : undefined}
          aria-describedby={errors.name ? 'org-name-err' : undefined}
        />
        {errors.name ? (
          <span className="field-error" id="org-name-err">
            {errors.name}
          </span>
        ) : null}
      </label>
      <label className="field">
        <span>URL name</span>
        <input
          name="slug"
          value={slug}
          onChange={(e) => setSlug(e.target.value.toLowerCase().trim())}
          aria-invalid={errors.slug ? true : undefined}
          aria-describedby="org-slug-hint"
          autoComplete="off"
        />
        <span className={errors.slug ? 'field-error' : 'hint'} id="org-slug-hint">
          {errors.slug ??
            (slugChanged
              ? `Agents will have to connect at /mcp/${slug || '…'}; the old endpoint /mcp/${org} stops working.`
              : `Used in dashboard URLs and the MCP endpoint /mcp/${org}.`)}
        </span>
      </label>
      <div>
        <button className="btn primary" type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save changes'}
        </button>
      </div>
    </form>
  );
}
