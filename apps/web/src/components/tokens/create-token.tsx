'use client';

import {
  type CreatedManagementToken,
  CreatePersonalTokenRequest,
  CreateServiceAccountTokenRequest,
  DEFAULT_TOKEN_LIFETIME_DAYS,
  MANAGEMENT_SCOPES,
  type ManagementScope,
} from '@toolgate/contracts/src/management-tokens';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { SecretOnce } from '@/components/client-ui';
import { keyErrors } from '@/components/keys/api-errors';
import { call } from '@/lib/client';

const SCOPE_HELP: Record<ManagementScope, string> = {
  read: 'read what members can see: servers, keys, roles, secrets (names), audit',
  manage: 'what admins do: keys, roles, servers, secrets, members, activity',
  billing: 'billing and invoices',
};

const LIFETIMES = [30, 90, 180, 365] as const;

type Target = { kind: 'service_account'; org: string } | { kind: 'personal'; orgs: { slug: string; name: string }[] };

/**
 * "New token" → name, scopes, lifetime (and, for a personal token, the org it is bound to) → the
 * secret, shown once, with a curl line to try it. The request is checked with the same zod
 * schema the API uses before it is sent.
 */
export function CreateToken({
  target,
  apiUrl,
  allowedScopes = MANAGEMENT_SCOPES,
}: {
  target: Target;
  apiUrl: string;
  allowedScopes?: readonly ManagementScope[];
}) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<ManagementScope[]>(['read']);
  const [days, setDays] = useState<number>(DEFAULT_TOKEN_LIFETIME_DAYS);
  const [org, setOrg] = useState(target.kind === 'personal' ? (target.orgs[0]?.slug ?? '') : target.org);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<CreatedManagementToken | null>(null);
  const personal = target.kind === 'personal';

  async function submit(e: FormEvent) {
    e.preventDefault();
    setGeneral(null);
    const body = personal ? { name, org, scopes, expiresInDays: days } : { name, scopes, expiresInDays: days };
    const parsed = (personal ? CreatePersonalTokenRequest : CreateServiceAccountTokenRequest).safeParse(body);
    if (!parsed.success) {
      const found: Record<string, string> = {};
      for (const i of parsed.error.issues) found[String(i.path[0] ?? 'general')] ??= i.message.charAt(0).toUpperCase() + i.message.slice(1);
      setErrors(found);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const path = personal ? '/v1/me/tokens' : `/v1/orgs/${encodeURIComponent(org)}/tokens`;
      setCreated(await call<CreatedManagementToken>('POST', path, parsed.data));
      setName('');
      router.refresh();
    } catch (err) {
      const { fields, general } = keyErrors(err);
      setErrors(fields);
      setGeneral(general ?? (Object.keys(fields).length ? null : 'The token could not be created.'));
    } finally {
      setBusy(false);
    }
  }

  if (created) {
    const example = `curl -H "Authorization: Bearer ${created.token}" ${apiUrl}/v1/orgs/${created.org.slug}/servers`;
    return (
      <section className="card stack" aria-labelledby="created-token-title">
        <h2 id="created-token-title" style={{ margin: 0 }}>
          Token “{created.name}” created
        </h2>
        <SecretOnce label="Your new API token" value={created.token} />
        <p className="muted small" style={{ margin: 0 }}>
          Send it as <code>Authorization: Bearer &lt;token&gt;</code> to the API, for example:
        </p>
        <pre className="mono small" data-testid="token-curl" style={{ margin: 0, whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
          {example}
        </pre>
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
          New token
        </button>
      </div>
    );
  }

  return (
    <section className="card" aria-labelledby="new-token-title">
      <h2 id="new-token-title">{personal ? 'New personal access token' : 'New service account token'}</h2>
      <form
        className="stack"
        onSubmit={submit}
        // What was said about the last attempt is stale once the person edits again.
        onChange={() => {
          setGeneral(null);
          setErrors({});
        }}
        noValidate
        aria-label="Create API token"
      >
        {general ? (
          <div className="notice error" role="alert">
            {general}
          </div>
        ) : null}
        <label className="field">
          <span>Name</span>
          <input name="name" value={name} maxLength={120} onChange={(e) => setName(e.target.value)} aria-invalid={!!errors.name} />
          <span className={errors.name ? 'field-error' : 'hint'}>{errors.name ?? 'What uses it, e.g. “GitHub deploy workflow”.'}</span>
        </label>
        {target.kind === 'personal' ? (
          <label className="field">
            <span>Organisation</span>
            <select name="org" value={org} onChange={(e) => setOrg(e.target.value)}>
              {target.orgs.map((o) => (
                <option key={o.slug} value={o.slug}>
                  {o.name}
                </option>
              ))}
            </select>
            <span className={errors.org ? 'field-error' : 'hint'}>
              {errors.org ?? 'The token works in this organisation only, with at most your role there.'}
            </span>
          </label>
        ) : null}
        <fieldset className="stack" style={{ border: 0, padding: 0, margin: 0, gap: 6 }}>
          <legend style={{ fontWeight: 500, marginBottom: 4 }}>Scopes</legend>
          {allowedScopes.map((s) => (
            <label key={s} className="row" style={{ gap: 6, fontWeight: 400 }}>
              <input
                type="checkbox"
                checked={scopes.includes(s)}
                onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))}
              />
              <span className="mono">{s}</span>
              <span className="muted small">— {SCOPE_HELP[s]}</span>
            </label>
          ))}
          {errors.scopes ? <span className="field-error small">{errors.scopes}</span> : null}
        </fieldset>
        <label className="field">
          <span>Expires after</span>
          <select name="expiresInDays" value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {LIFETIMES.map((d) => (
              <option key={d} value={d}>
                {d} days
              </option>
            ))}
          </select>
          {errors.expiresInDays ? <span className="field-error">{errors.expiresInDays}</span> : null}
        </label>
        <div className="row">
          <button type="submit" className="btn primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create token'}
          </button>
          <button type="button" className="btn" onClick={() => setOpen(false)}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}
