'use client';

import { PASSWORD_MIN_LENGTH } from '@toolgate/contracts/src/account';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { readProblem, humanize } from '@/lib/problem';

type Mode = 'login' | 'signup';

export function AuthForm({
  mode,
  next,
  expired,
  invitedEmail,
}: {
  mode: Mode;
  next: string;
  expired: boolean;
  /** Sign-up from an invitation: the email is fixed to the invited address. */
  invitedEmail?: string;
}) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const body: Record<string, string> = {
      email: String(form.get('email') ?? '').trim(),
      password: String(form.get('password') ?? ''),
    };
    if (mode === 'signup') body.name = String(form.get('name') ?? '').trim();
    const errs: Record<string, string> = {};
    if (mode === 'signup' && !body.name) errs.name = 'Enter your name.';
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(body.email)) errs.email = 'Enter a valid email address.';
    if (mode === 'signup' && body.password.length < PASSWORD_MIN_LENGTH) errs.password = `Use at least ${PASSWORD_MIN_LENGTH} characters.`;
    if (mode === 'login' && !body.password) errs.password = 'Enter your password.';
    setFieldErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    setError(null);
    try {
      const res = await fetch(`/api/session/${mode}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) {
        const p = await readProblem(res);
        if (p.status === 409) setError('An account with this email already exists. Log in instead.');
        else setError(humanize(p));
        return;
      }
      router.replace(next);
      router.refresh();
    } catch {
      setError('The dashboard cannot be reached. Check your connection and try again.');
    } finally {
      setBusy(false);
    }
  }

  const field = (name: string, label: string, input: React.InputHTMLAttributes<HTMLInputElement>) => (
    <label className="field">
      <span>{label}</span>
      <input
        name={name}
        aria-invalid={fieldErrors[name] ? true : undefined}
        aria-describedby={fieldErrors[name] ? `${name}-err` : undefined}
        {...input}
      />
      {fieldErrors[name] ? (
        <span className="field-error" id={`${name}-err`}>
          {fieldErrors[name]}
        </span>
      ) : null}
    </label>
  );

  const other = mode === 'login' ? '/signup' : '/login';
  const otherHref = next !== '/' ? `${other}?next=${encodeURIComponent(next)}` : other;
  return (
    <form className="stack" onSubmit={submit} noValidate>
      {expired ? <div className="notice info">Your session has expired. Log in to continue where you were.</div> : null}
      {error ? (
        <div className="notice error" role="alert">
          {error}
        </div>
      ) : null}
      {mode === 'signup' ? field('name', 'Name', { autoComplete: 'name', required: true, maxLength: 120 }) : null}
      {field('email', 'Email', {
        type: 'email',
        autoComplete: 'email',
        required: true,
        ...(invitedEmail ? { defaultValue: invitedEmail, readOnly: true, 'aria-describedby': 'email-hint' } : {}),
      })}
      {invitedEmail ? (
        <p className="muted small" id="email-hint" style={{ margin: 0 }}>
          The invitation was sent to this address; accepting it needs an account with it.{' '}
          <Link href="/signup">Sign up with another email</Link> instead.
        </p>
      ) : null}
      {field('password', 'Password', {
        type: 'password',
        autoComplete: mode === 'login' ? 'current-password' : 'new-password',
        required: true,
        minLength: mode === 'signup' ? 10 : undefined,
      })}
      <button className="btn primary" type="submit" disabled={busy}>
        {busy ? 'Please wait…' : mode === 'login' ? 'Log in' : 'Create account'}
      </button>
      <p className="muted small" style={{ margin: 0 }}>
        {mode === 'login' ? 'New to Toolgate? ' : 'Already have an account? '}
        <Link href={otherHref}>{mode === 'login' ? 'Create an account' : 'Log in'}</Link>
      </p>
    </form>
  );
}
