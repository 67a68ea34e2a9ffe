import type { Metadata } from 'next';
import { AuthForm } from '@/components/auth-form';
import { apiResult } from '@/lib/api';
import { safeNext } from '@/lib/session';

export const metadata: Metadata = { title: 'Sign up' };

export default async function SignupPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const sp = await searchParams;
  const next = safeNext(sp.next);
  const invitedEmail = await invitedEmailOf(next);
  return (
    <main className="auth-page" id="main">
      <div className="card">
        <h1 style={{ marginBottom: 4 }}>Create your Toolgate account</h1>
        <p className="muted" style={{ marginTop: 0 }}>
          One gateway for every MCP server your agents use.
        </p>
        <AuthForm mode="signup" next={next} expired={false} invitedEmail={invitedEmail} />
      </div>
    </main>
  );
}

/**
 * Arriving from an invitation (`next` is its page): the invited address, looked up by the token
 * rather than carried in the URL, so the account is created with the email the invitation needs.
 */
async function invitedEmailOf(next: string): Promise<string | undefined> {
  const token = /^\/invitations\/([^/?#]+)$/.exec(next)?.[1];
  if (!token) return undefined;
  // Already percent-encoded as a path segment; a malformed one simply gets no lookup hit.
  const r = await apiResult<{ email: string }>(`/v1/invitations/${token}`);
  return r.ok ? r.data.email : undefined;
}
