'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { call, errorMessage } from '@/lib/client';
import { ApiError } from '@/lib/problem';

/** A billing failure in words: the API's codes for "no Stripe here" and "Stripe failed". */
export function billingErrorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.problem.code === 'billing_not_configured') {
      return 'Billing through Stripe is not available on this server: Stripe is not configured, so usage is tracked in the local ledger only. Ask whoever runs Toolgate to set STRIPE_SECRET_KEY.';
    }
    if (err.problem.code === 'payment_provider_error') {
      return `Stripe could not be reached or refused the request, so billing was not enabled. Nothing was charged; try again in a moment. (${err.problem.detail ?? 'no details'})`;
    }
  }
  return errorMessage(err);
}

/** POST …/billing/enable: creates the Stripe customer and metered subscription (idempotent). */
export function EnableBillingButton({ org, label = 'Enable billing' }: { org: string; label?: string }) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  async function enable() {
    setBusy(true);
    setError(null);
    try {
      await call('POST', `/v1/orgs/${encodeURIComponent(org)}/billing/enable`);
      setDone(true);
      router.refresh();
    } catch (err) {
      setError(billingErrorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="stack" style={{ gap: 8 }}>
      {error ? (
        <div className="notice error" role="alert" style={{ marginBottom: 0 }}>
          {error}
        </div>
      ) : null}
      {done ? (
        <div className="notice ok" role="status" style={{ marginBottom: 0 }}>
          Billing is enabled: usage is now reported to Stripe.
        </div>
      ) : null}
      <div>
        <button type="button" className="btn primary" onClick={enable} disabled={busy}>
          {busy ? 'Enabling…' : label}
        </button>
      </div>
    </div>
  );
}
