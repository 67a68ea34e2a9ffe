'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { call, errorMessage } from '@/lib/client';

/** The monthly call quota (owners only, as the API requires); empty means no quota. */
export function QuotaForm({ org, quota }: { org: string; quota: number | null }) {
  const router = useRouter();
  const [value, setValue] = useState(quota === null ? '' : String(quota));
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setSaved(false);
    const raw = value.replace(/[\s,_]/g, '');
    const next = raw === '' ? null : Number(raw);
    if (next !== null && (!Number.isInteger(next) || next <= 0)) {
      return setFieldError('Enter a whole number of calls greater than 0, or leave it empty for no quota.');
    }
    setFieldError(null);
    setBusy(true);
    setError(null);
    try {
      await call('PATCH', `/v1/orgs/${encodeURIComponent(org)}`, { monthlyCallQuota: next });
      setSaved(true);
      router.refresh();
    } catch (err) {
      setError(errorMessage(err));
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
        setError(null);
        setSaved(false);
        setFieldError(null);
      }}
      noValidate
      aria-label="Quota"
    >
      {error ? (
        <div className="notice error" role="alert" style={{ margin: 0 }}>
          {error}
        </div>
      ) : null}
      {saved ? (
        <div className="notice ok" role="status" style={{ margin: 0 }}>
          Quota saved.
        </div>
      ) : null}
      <label className="field">
        <span>Monthly call quota</span>
        <input
          name="monthlyCallQuota"
          inputMode="numeric"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          placeholder="No quota"
          aria-invalid={fieldError ? true : undefined}
          aria-describedby="quota-hint"
        />
        <span className={fieldError ? 'field-error' : 'hint'} id="quota-hint">
          {fieldError ?? 'Tool calls per calendar month across all agent keys. Leave empty for no quota.'}
        </span>
      </label>
      <div>
        <button className="btn" type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save quota'}
        </button>
      </div>
    </form>
  );
}
