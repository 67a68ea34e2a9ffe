'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { call, errorMessage } from '@/lib/client';

/** "Join <org>": accepts the invitation for the logged-in person, then opens the org. */
export function AcceptInvitation({ token, orgName }: { token: string; orgName: string }) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <div className="stack">
      {error ? (
        <div className="notice error" role="alert" style={{ margin: 0 }}>
          {error}
        </div>
      ) : null}
      <div>
        <button
          type="button"
          className="btn primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              const org = await call<{ slug: string }>('POST', `/v1/invitations/${encodeURIComponent(token)}/accept`, {});
              router.push(`/o/${org.slug}`);
              router.refresh();
            } catch (err) {
              setError(errorMessage(err));
              setBusy(false);
            }
          }}
        >
          {busy ? 'Joining…' : `Join ${orgName}`}
        </button>
      </div>
    </div>
  );
}

/** Logs out, then to login with a way back to this invitation. */
export function SwitchAccount({ next }: { next: string }) {
  const [busy, setBusy] = useState(false);
  return (
    <div>
      <button
        type="button"
        className="btn primary"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          await fetch('/api/session/logout', { method: 'POST' }).catch(() => undefined);
          window.location.assign(`/login?next=${encodeURIComponent(next)}`);
        }}
      >
        Log out and switch account
      </button>
    </div>
  );
}
