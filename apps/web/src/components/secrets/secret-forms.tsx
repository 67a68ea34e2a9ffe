'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { ConfirmButton } from '@/components/client-ui';
import { call } from '@/lib/client';
import { problemFields } from '@/lib/form-errors';

// Mirrors apps/api/src/modules/secrets/secrets.dto.ts; the API stays the authority.
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_BYTES = 64 * 1024;

function valueProblem(value: string): string | null {
  if (!value) return 'Enter the value.';
  if (new TextEncoder().encode(value).length > MAX_BYTES) return 'The value must be at most 64 KiB.';
  return null;
}

/** Create a secret. The value is sent once and never shown again (the API cannot return it). */
export function CreateSecretForm({ org, existing }: { org: string; existing: string[] }) {
  const router = useRouter();
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [description, setDescription] = useState('');
  const [errors, setErrors] = useState<{ name?: string; value?: string; description?: string; form?: string }>({});
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(null);
    const n = name.trim();
    const errs: typeof errors = {};
    if (!n) errs.name = 'Enter a name.';
    else if (!SECRET_NAME.test(n))
      errs.name = 'Use letters, digits and _ only, starting with a letter or _ (like an environment variable, e.g. GITHUB_TOKEN).';
    else if (existing.includes(n)) errs.name = `${n} already exists; use “Replace value” in the list to change it.`;
    const vp = valueProblem(value);
    if (vp) errs.value = vp;
    if (description.trim().length > 500) errs.description = 'The description must be at most 500 characters.';
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      await call('PUT', `/v1/orgs/${org}/secrets/${encodeURIComponent(n)}`, { value, description: description.trim() || undefined });
      setName('');
      setValue('');
      setDescription('');
      setDone(`Secret ${n} saved. Its value will not be shown again.`);
      router.refresh();
    } catch (err) {
      const p = problemFields(err, ['name', 'value', 'description'] as const);
      setErrors({ ...p.fields, ...(p.general ? { form: p.general } : {}) });
    } finally {
      setBusy(false);
    }
  }

  const invalid = (k: keyof typeof errors) => (errors[k] ? { 'aria-invalid': true as const, 'aria-describedby': `secret-${k}-err` } : {});
  const err = (k: keyof typeof errors) =>
    errors[k] ? (
      <span className="field-error" id={`secret-${k}-err`}>
        {errors[k]}
      </span>
    ) : null;

  return (
    <form
      className="stack"
      onSubmit={submit}
      // What was said about the last attempt is stale once the person edits again.
      onChange={() => {
        setErrors({});
        setDone(null);
      }}
      noValidate
      aria-label="Create secret"
    >
      {errors.form ? (
        <div className="notice error" role="alert">
          {errors.form}
        </div>
      ) : null}
      {done ? (
        <div className="notice ok" role="status">
          {done}
        </div>
      ) : null}
      <div className="grid" style={{ gap: 12 }}>
        <label className="field">
          <span>Secret name</span>
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="GITHUB_TOKEN"
            className="mono"
            autoCapitalize="characters"
            autoComplete="off"
            spellCheck={false}
            {...invalid('name')}
          />
          {err('name')}
        </label>
        <label className="field">
          <span>Value</span>
          <input
            type="password"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            autoComplete="new-password"
            {...invalid('value')}
          />
          {err('value') ?? <span className="hint">Stored encrypted; nobody can read it back, only replace it.</span>}
        </label>
        <label className="field">
          <span>Description (optional)</span>
          <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} {...invalid('description')} />
          {err('description')}
        </label>
      </div>
      <div>
        <button type="submit" className="btn primary" disabled={busy}>
          {busy ? 'Saving…' : 'Create secret'}
        </button>
      </div>
    </form>
  );
}

/** Replace a secret's value (PUT with the new value; the description is kept). */
export function ReplaceSecret({ org, name }: { org: string; name: string }) {
  const router = useRouter();
  const [value, setValue] = useState('');
  const [done, setDone] = useState(false);
  return (
    <>
      <ConfirmButton
        className="btn small"
        title={`Replace the value of ${name}`}
        confirmLabel="Replace value"
        danger={false}
        body={
          <>
            <p className="muted" style={{ margin: 0 }}>
              Servers that use it get the new value the next time the gateway starts them.
            </p>
            <label className="field">
              <span>New value</span>
              <input type="password" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="new-password" />
            </label>
          </>
        }
        onConfirm={async () => {
          const problem = valueProblem(value);
          if (problem) throw new Error(problem);
          await call('PUT', `/v1/orgs/${org}/secrets/${encodeURIComponent(name)}`, { value });
          setValue('');
          setDone(true);
          setTimeout(() => setDone(false), 4000);
          router.refresh();
        }}
      >
        Replace value
      </ConfirmButton>
      {done ? (
        <span className="badge ok" role="status">
          Replaced
        </span>
      ) : null}
    </>
  );
}

export function DeleteSecret({ org, name, usedBy }: { org: string; name: string; usedBy: string[] }) {
  const router = useRouter();
  return (
    <ConfirmButton
      className="btn small"
      title={`Delete ${name}?`}
      confirmLabel="Delete secret"
      body={
        usedBy.length ? (
          <div className="notice warn" style={{ margin: 0 }}>
            {name} is used by {usedBy.join(', ')}. Remove those references first; the API refuses to delete a secret in use.
          </div>
        ) : (
          <p className="muted" style={{ margin: 0 }}>
            The value is destroyed. This cannot be undone.
          </p>
        )
      }
      onConfirm={async () => {
        await call('DELETE', `/v1/orgs/${org}/secrets/${encodeURIComponent(name)}`);
        router.refresh();
      }}
    >
      Delete
    </ConfirmButton>
  );
}
