import type { Metadata } from 'next';
import { AuthForm } from '@/components/auth-form';
import { safeNext } from '@/lib/session';

export const metadata: Metadata = { title: 'Sign up' };

export default async function SignupPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const sp = await searchParams;
  return (
    <main className="auth-page" id="main">
      <div className="card">
        <h1 style={{ marginBottom: 4 }}>Create your Toolgate account</h1>
        <p className="muted" style={{ marginTop: 0 }}>
          One gateway for every MCP server your agents use.
        </p>
        <AuthForm mode="signup" next={safeNext(sp.next)} expired={false} />
      </div>
    </main>
  );
}
