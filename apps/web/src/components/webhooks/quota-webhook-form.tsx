'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { call } from '@/lib/client';
import { fieldOrGeneral } from './field-errors';

/** Where quota alerts (80% and 100% of the monthly quota) are POSTed; empty removes it. Owner and billing only. */
export function QuotaWebhookForm({ org, url: saved }: { org: string; url: string | null }) {
  const router = useRouter();
  const [url, setUrl] = useState(saved ?? '');
  const [urlError, setUrlError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const next = url.trim() === '' ? null : url.trim();
    setBusy(true);
    setUrlError(null);
    setError(null);
    setDone(null);
    try {
      await call('PATCH', `/v1/orgs/${encodeURIComponent(org)}/billing`, { alertWebhookUrl: next });
      setDone(next ? 'Quota alert webhook saved.' : 'Quota alert webhook removed. Alerts are still listed on the usage page.');
      router.refresh();
    } catch (err) {
      const { field, general } = fieldOrGeneral(err, 'alertWebhookUrl');
      setUrlError(field);
      setError(general);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label="Quota alert webhook">
      {error ? (
        <div className="notice error" role="alert" style={{ margin: 0 }}>
          {error}
        </div>
      ) : null}
      {done ? (
        <div className="notice ok" role="status" style={{ margin: 0 }}>
          {done}
        </div>
      ) : null}
      <label className="field">
        <span>Alert URL</span>
        <input
          name="alertWebhookUrl"
          type="url"
          inputMode="url"
          value={url}
          placeholder="https://hooks.example.com/toolgate-quota"
          onChange={(e) => {
            setUrl(e.target.value);
            setUrlError(null);
            setDone(null);
          }}
          aria-invalid={urlError ? true : undefined}
          aria-describedby="quota-webhook-hint"
        />
        <span className={urlError ? 'field-error' : 'hint'} id="quota-webhook-hint">
          {urlError ??
            'A JSON POST (type quota.threshold_reached) when the month reaches 80% and 100% of the quota; deduplicate on the Toolgate-Alert-Id header. Leave empty for none.'}
        </span>
      </label>
      <div>
        <button className="btn" type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save alert URL'}
        </button>
      </div>
    </form>
  );
}
