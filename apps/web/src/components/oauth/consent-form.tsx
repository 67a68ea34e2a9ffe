'use client';

import type { ConsentOutcome, ConsentRequestView } from '@toolgate/contracts';
import Link from 'next/link';
import { useState } from 'react';
import { formatDate } from '@/components/ui';
import { call, errorMessage } from '@/lib/client';
import { hostOf, isRedirectFor, scopeRoleNames } from '@/lib/oauth';
import { ApiError } from '@/lib/problem';

type Org = ConsentRequestView['orgs'][number];

function preselected(org: Org | undefined, scope: string | null): string[] {
  const wanted = scopeRoleNames(scope);
  return org ? org.roles.filter((r) => wanted.has(r.name)).map((r) => r.id) : [];
}

/** What the app asks for, the organisation and roles to grant, and Approve / Deny. */
export function ConsentForm({ view, email }: { view: ConsentRequestView; email: string }) {
  const single = view.orgs.length === 1 ? view.orgs[0] : undefined;
  const [orgId, setOrgId] = useState(single?.id ?? '');
  const org = view.orgs.find((o) => o.id === orgId);
  const [roleIds, setRoleIds] = useState<string[]>(() => preselected(single, view.scope));
  const [busy, setBusy] = useState<'approve' | 'deny' | null>(null);
  const [leaving, setLeaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [gone, setGone] = useState<string | null>(null);

  const { client } = view;
  const verified = client.registration === 'metadata-document';
  const back = hostOf(view.redirectUri) ?? view.redirectUri;

  async function decide(kind: 'approve' | 'deny') {
    setBusy(kind);
    setError(null);
    try {
      const body = kind === 'approve' ? { orgId, roleIds } : {};
      const out = await call<ConsentOutcome>('POST', `/v1/oauth/requests/${encodeURIComponent(view.id)}/${kind}`, body);
      if (!isRedirectFor(out.redirectTo, view.redirectUri)) {
        setError('The answer pointed somewhere other than the app’s registered address, so you were not sent there.');
        setBusy(null);
        return;
      }
      setLeaving(true);
      // A full-page navigation: the redirect URI belongs to the app, usually another origin.
      window.location.assign(out.redirectTo);
    } catch (err) {
      if (err instanceof ApiError && [404, 409, 410].includes(err.status)) setGone(errorMessage(err));
      else setError(errorMessage(err));
      setBusy(null);
    }
  }

  if (gone) {
    return (
      <div className="stack" data-testid="consent-gone">
        <h1 style={{ margin: 0 }}>This authorization request can no longer be used</h1>
        <div className="notice warn" role="status" style={{ margin: 0 }}>
          {gone}
        </div>
        <p className="muted small" style={{ margin: 0 }}>
          Go back to the app and connect again to start a new request.
        </p>
      </div>
    );
  }

  return (
    <>
      <div>
        <p className="muted small" style={{ margin: 0 }}>
          Signed in as {email}
        </p>
        <h1 style={{ margin: '4px 0 0' }}>
          Connect <span data-testid="client-name">{client.name}</span>?
        </h1>
      </div>
      <p style={{ margin: 0 }}>
        This app asks to call MCP tools through Toolgate with the roles you grant it here, until you revoke it under Connected apps.
      </p>
      {verified ? (
        <div className="notice info" role="status" style={{ margin: 0 }} data-testid="client-verified">
          Its details are published by <strong>{hostOf(client.id) ?? client.id}</strong> (a client metadata document).
        </div>
      ) : (
        <div className="notice warn" role="status" style={{ margin: 0 }} data-testid="client-dynamic">
          This app registered itself: the name “{client.name}” is self-asserted and not verified. Continue only if you just started
          connecting an app you trust, and check where it sends you back to.
        </div>
      )}
      <dl className="small" style={{ margin: 0, display: 'grid', gridTemplateColumns: 'auto 1fr', gap: '4px 12px' }}>
        <dt className="muted">Home page</dt>
        <dd style={{ margin: 0 }} className="mono" data-testid="client-home">
          {hostOf(client.uri) ?? <span className="muted">not given</span>}
        </dd>
        <dt className="muted">Sends you back to</dt>
        <dd style={{ margin: 0 }} className="mono" data-testid="redirect-host" title={view.redirectUri}>
          {back}
        </dd>
        <dt className="muted">Endpoint</dt>
        <dd style={{ margin: 0, wordBreak: 'break-all' }} className={view.resource ? 'mono' : undefined} data-testid="resource">
          {view.resource ?? <span className="muted">not named: the endpoint of the organisation you choose</span>}
        </dd>
        <dt className="muted">Request expires</dt>
        <dd style={{ margin: 0 }}>{formatDate(view.expiresAt)}</dd>
      </dl>

      {view.orgs.length === 0 ? (
        <div className="notice warn" role="status" style={{ margin: 0 }} data-testid="no-orgs">
          {view.resource
            ? 'You are not a member of the organisation this endpoint belongs to. Ask one of its owners or admins to connect the app.'
            : 'You are not a member of any organisation yet.'}
        </div>
      ) : (
        <label className="field">
          <span>Organisation</span>
          <select
            value={orgId}
            disabled={!!single || !!busy || leaving}
            onChange={(e) => {
              const next = view.orgs.find((o) => o.id === e.target.value);
              setOrgId(e.target.value);
              setRoleIds(preselected(next, view.scope));
            }}
          >
            {single ? null : (
              <option value="" disabled>
                Choose an organisation
              </option>
            )}
            {view.orgs.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name} ({o.slug})
              </option>
            ))}
          </select>
        </label>
      )}

      {org && !org.canGrant ? (
        <div className="notice info" role="status" style={{ margin: 0 }} data-testid="cannot-grant">
          Only owners and admins can connect apps. You are a {org.memberRole} of {org.name}: ask one of its owners or admins to connect this
          app.
        </div>
      ) : null}
      {org?.canGrant && org.roles.length === 0 ? (
        <div className="notice warn" role="status" style={{ margin: 0 }} data-testid="no-roles">
          {org.name} has no roles yet, and an app can only be connected with at least one.{' '}
          <Link href={`/o/${org.slug}/roles/new`}>Create a role</Link>, then come back to this page.
        </div>
      ) : null}
      {org?.canGrant && org.roles.length > 0 ? (
        <fieldset className="stack" style={{ border: 0, padding: 0, margin: 0, gap: 6 }}>
          <legend style={{ fontWeight: 500, marginBottom: 4 }}>Roles to grant</legend>
          <span className="muted small">The app may call what these roles allow, as an agent key with them would.</span>
          {org.roles.map((r) => (
            <label key={r.id} className="row" style={{ gap: 6, alignItems: 'flex-start' }}>
              <input
                type="checkbox"
                checked={roleIds.includes(r.id)}
                disabled={!!busy || leaving}
                onChange={(e) => setRoleIds(e.target.checked ? [...roleIds, r.id] : roleIds.filter((id) => id !== r.id))}
                style={{ marginTop: 3 }}
              />
              <span>
                <span className="mono">{r.name}</span>
                {r.description ? <span className="muted small"> — {r.description}</span> : null}
              </span>
            </label>
          ))}
        </fieldset>
      ) : null}

      {error ? (
        <div className="notice error" role="alert" style={{ margin: 0 }}>
          {error}
        </div>
      ) : null}
      {leaving ? (
        <div className="notice info" role="status" style={{ margin: 0 }}>
          Returning you to {back}…
        </div>
      ) : null}
      <div className="row" style={{ justifyContent: 'flex-end' }}>
        <button type="button" className="btn" disabled={!!busy || leaving} onClick={() => decide('deny')}>
          {busy === 'deny' ? 'Denying…' : 'Deny'}
        </button>
        {org?.canGrant ? (
          <button
            type="button"
            className="btn primary"
            disabled={roleIds.length === 0 || !!busy || leaving}
            onClick={() => decide('approve')}
          >
            {busy === 'approve' ? 'Approving…' : 'Approve'}
          </button>
        ) : null}
      </div>
      {org?.canGrant && roleIds.length === 0 && org.roles.length > 0 ? (
        <p className="muted small" style={{ margin: 0, textAlign: 'right' }}>
          Choose at least one role to approve.
        </p>
      ) : null}
    </>
  );
}
