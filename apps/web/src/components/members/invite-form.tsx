'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { CopyButton } from '@/components/client-ui';
import { call, errorMessage } from '@/lib/client';
import type { MemberRole } from '@/lib/access';
import { grantable } from './roles';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

interface Created {
  email: string;
  role: MemberRole;
  expiresAt: string;
  acceptUrl: string;
}

/** Invite by email; the API answers the invitation link once, shown here to copy (no mail is sent). */
export function InviteForm({ org, actorRole }: { org: string; actorRole: MemberRole }) {
  const router = useRouter();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<MemberRole>('member');
  const [emailError, setEmailError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const value = email.trim();
    if (!EMAIL.test(value)) return setEmailError('Enter the email address of the person to invite.');
    setEmailError(null);
    setBusy(true);
    setError(null);
    try {
      const inv = await call<Created>('POST', `/v1/orgs/${encodeURIComponent(org)}/invitations`, { email: value, role });
      setCreated(inv);
      setEmail('');
      router.refresh();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="stack">
      <form
        className="row"
        onSubmit={submit}
        // What was said about the last attempt is stale once the person edits again.
        onChange={() => {
          setError(null);
          setEmailError(null);
        }}
        noValidate
        aria-label="Invite a member"
        style={{ alignItems: 'flex-start' }}
      >
        <label className="field" style={{ flex: '2 1 220px' }}>
          <span>Email</span>
          <input
            type="email"
            name="email"
            autoComplete="off"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            aria-invalid={emailError ? true : undefined}
            aria-describedby={emailError ? 'invite-email-err' : undefined}
            placeholder="person@example.com"
          />
          {emailError ? (
            <span className="field-error" id="invite-email-err">
              {emailError}
            </span>
          ) : null}
        </label>
        <label className="field" style={{ flex: '1 1 140px' }}>
          <span>Role</span>
          <select name="role" value={role} onChange={(e) => setRole(e.target.value as MemberRole)}>
            {grantable(actorRole).map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <div style={{ alignSelf: 'flex-end' }}>
          <button className="btn primary" type="submit" disabled={busy}>
            {busy ? 'Inviting…' : 'Invite'}
          </button>
        </div>
      </form>
      <p className="small muted" style={{ margin: 0 }}>
        {grantable(actorRole).find((r) => r.value === role)?.label}: {grantable(actorRole).find((r) => r.value === role)?.help}.
      </p>
      {error ? (
        <div className="notice error" role="alert">
          {error}
        </div>
      ) : null}
      {created ? (
        <div className="stack" role="status" data-testid="invitation-created">
          <div className="notice ok" style={{ marginBottom: 0 }}>
            Invitation for <strong>{created.email}</strong> as <strong>{created.role}</strong> created. No email is sent: copy this link and
            send it to them. It works once and only for that email address; it is not shown again.
          </div>
          <div className="secret-once">
            <code data-testid="invitation-link" style={{ flex: 1, wordBreak: 'break-all' }}>
              {created.acceptUrl}
            </code>
            <CopyButton value={created.acceptUrl} label="Copy link" />
          </div>
          <div>
            <button type="button" className="btn small ghost" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      ) : null}
    </div>
  );
}
