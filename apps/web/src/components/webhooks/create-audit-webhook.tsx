'use client';

import type { AuditWebhookCreated } from '@toolgate/contracts';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { SecretOnce } from '@/components/client-ui';
import { call } from '@/lib/client';
import { fieldOrGeneral } from './field-errors';

/** Adds an audit webhook and shows its signing secret, which the API returns this once only. */
export function CreateAuditWebhook({ org }: { org: string }) {
  const router = useRouter();
  const [url, setUrl] = useState('');
  const [startAt, setStartAt] = useState<'now' | 'beginning'>('now');
  const [urlError, setUrlError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<AuditWebhookCreated | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!url.trim()) return setUrlError('Enter the URL that receives the events.');
    setBusy(true);
    setUrlError(null);
    setError(null);
    try {
      const w = await call<AuditWebhookCreated>('POST', `/v1/orgs/${encodeURIComponent(org)}/audit/webhooks`, { url: url.trim(), startAt });
      setCreated(w);
      setUrl('');
      router.refresh();
    } catch (err) {
      const { field, general } = fieldOrGeneral(err, 'url');
      setUrlError(field);
      setError(general);
    } finally {
      setBusy(false);
    }
  }

  if (created) {
    return (
      <div className="stack" data-testid="webhook-created">
        <p style={{ margin: 0 }}>
          Webhook to <code style={{ overflowWrap: 'anywhere' }}>{created.url}</code> added. Its receiver needs this signing secret to verify
          deliveries.
        </p>
        <SecretOnce label="Signing secret" value={created.secret} onDone={() => setCreated(null)} />
      </div>
    );
  }

  return (
    <form className="stack" onSubmit={submit} noValidate aria-label="Add an audit webhook">
      {error ? (
        <div className="notice error" role="alert" style={{ margin: 0 }}>
          {error}
        </div>
      ) : null}
      <label className="field">
        <span>Receiver URL</span>
        <input
          name="url"
          type="url"
          inputMode="url"
          value={url}
          placeholder="https://siem.example.com/toolgate"
          onChange={(e) => {
            setUrl(e.target.value);
            setUrlError(null);
          }}
          aria-invalid={urlError ? true : undefined}
          aria-describedby="webhook-url-hint"
        />
        <span className={urlError ? 'field-error' : 'hint'} id="webhook-url-hint">
          {urlError ?? 'Audit events are POSTed here in batches, signed with a secret you get once.'}
        </span>
      </label>
      <fieldset className="stack" style={{ gap: 4, border: 0, padding: 0, margin: 0 }}>
        <legend className="small" style={{ padding: 0, marginBottom: 4 }}>
          Start with
        </legend>
        <label className="row" style={{ gap: 6 }}>
          <input type="radio" name="startAt" checked={startAt === 'now'} onChange={() => setStartAt('now')} />
          Events from now on
        </label>
        <label className="row" style={{ gap: 6 }}>
          <input type="radio" name="startAt" checked={startAt === 'beginning'} onChange={() => setStartAt('beginning')} />
          The whole retained audit log first
        </label>
      </fieldset>
      <div>
        <button className="btn primary" type="submit" disabled={busy}>
          {busy ? 'Adding…' : 'Add webhook'}
        </button>
      </div>
    </form>
  );
}
