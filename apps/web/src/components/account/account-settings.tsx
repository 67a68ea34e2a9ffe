'use client';

import { PASSWORD_MIN_LENGTH } from '@toolgate/contracts/src/account';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { call, errorMessage } from '@/lib/client';
import { ApiError } from '@/lib/problem';

type FieldErrors = Record<string, string>;

/** Field errors of a 400 problem keyed by path; the rest as one message. */
function splitProblem(err: unknown): { fields: FieldErrors; message: string | null } {
  if (err instanceof ApiError && err.problem.errors?.length) {
    const fields: FieldErrors = {};
    for (const e of err.problem.errors) fields[e.path] = `${e.message[0]?.toUpperCase() ?? ''}${e.message.slice(1)}.`;
    return { fields, message: null };
  }
  return { fields: {}, message: errorMessage(err) };
}

function Field({
  name,
  label,
  error,
  ...input
}: { name: string; label: string; error?: string } & React.InputHTMLAttributes<HTMLInputElement>) {
  return (
    <label className="field">
      <span>{label}</span>
      <input name={name} aria-invalid={error ? true : undefined} aria-describedby={error ? `${name}-err` : undefined} {...input} />
      {error ? (
        <span className="field-error" id={`${name}-err`}>
          {error}
        </span>
      ) : null}
    </label>
  );
}

export function ChangeNameForm({ name }: { name: string }) {
  const router = useRouter();
  const [value, setValue] = useState(name);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [message, setMessage] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setMessage(null);
    if (!value.trim()) return setErrors({ name: 'Enter your name.' });
    setErrors({});
    setBusy(true);
    try {
      await call('PATCH', '/v1/me', { name: value.trim() });
      setMessage({ kind: 'ok', text: 'Name saved.' });
      router.refresh();
    } catch (err) {
      const p = splitProblem(err);
      setErrors(p.fields);
      if (p.message) setMessage({ kind: 'error', text: p.message });
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
        setMessage(null);
        setErrors({});
      }}
      noValidate
      aria-label="Change name"
    >
      {message ? (
        <div className={`notice ${message.kind}`} role={message.kind === 'error' ? 'alert' : 'status'}>
          {message.text}
        </div>
      ) : null}
      <Field
        name="name"
        label="Name"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        maxLength={120}
        autoComplete="name"
        error={errors.name}
      />
      <div>
        <button className="btn" type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save name'}
        </button>
      </div>
    </form>
  );
}

export function ChangePasswordForm() {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [message, setMessage] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const formEl = e.currentTarget;
    const form = new FormData(formEl);
    const currentPassword = String(form.get('currentPassword') ?? '');
    const newPassword = String(form.get('newPassword') ?? '');
    const confirm = String(form.get('confirmPassword') ?? '');
    const errs: FieldErrors = {};
    if (!currentPassword) errs.currentPassword = 'Enter your current password.';
    if (newPassword.length < PASSWORD_MIN_LENGTH) errs.newPassword = `Use at least ${PASSWORD_MIN_LENGTH} characters.`;
    else if (confirm !== newPassword) errs.confirmPassword = 'The passwords do not match.';
    setErrors(errs);
    setMessage(null);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      await call('POST', '/v1/me/password', { currentPassword, newPassword });
      formEl.reset();
      setMessage({ kind: 'ok', text: 'Password changed. Your other sessions were signed out.' });
    } catch (err) {
      const p = splitProblem(err);
      setErrors(p.fields);
      if (p.message) setMessage({ kind: 'error', text: p.message });
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
        setMessage(null);
        setErrors({});
      }}
      noValidate
      aria-label="Change password"
    >
      {message ? (
        <div className={`notice ${message.kind}`} role={message.kind === 'error' ? 'alert' : 'status'}>
          {message.text}
        </div>
      ) : null}
      <Field
        name="currentPassword"
        label="Current password"
        type="password"
        autoComplete="current-password"
        error={errors.currentPassword}
      />
      <Field
        name="newPassword"
        label="New password"
        type="password"
        autoComplete="new-password"
        minLength={10}
        error={errors.newPassword}
      />
      <Field
        name="confirmPassword"
        label="Confirm new password"
        type="password"
        autoComplete="new-password"
        error={errors.confirmPassword}
      />
      <div>
        <button className="btn" type="submit" disabled={busy}>
          {busy ? 'Changing…' : 'Change password'}
        </button>
      </div>
    </form>
  );
}

async function endSession() {
  await fetch('/api/session/logout', { method: 'POST' }).catch(() => undefined);
  window.location.assign('/login');
}

export function SignOutEverywhere() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <div className="stack">
      {error ? (
        <div className="notice error" role="alert">
          {error}
        </div>
      ) : null}
      <p className="muted small" style={{ margin: 0 }}>
        Ends every session of your account, on every device, including this one. Personal access tokens are not affected.
      </p>
      <div>
        <button
          className="btn danger"
          type="button"
          disabled={busy}
          onClick={async () => {
            if (!window.confirm('Sign out of all sessions, including this one?')) return;
            setBusy(true);
            setError(null);
            try {
              await call('POST', '/v1/auth/logout-all');
              await endSession();
            } catch (err) {
              setError(errorMessage(err));
              setBusy(false);
            }
          }}
        >
          {busy ? 'Signing out…' : 'Sign out of all sessions'}
        </button>
      </div>
    </div>
  );
}

export function LogoutButton() {
  return (
    <button type="button" className="btn small" onClick={endSession}>
      Log out
    </button>
  );
}
