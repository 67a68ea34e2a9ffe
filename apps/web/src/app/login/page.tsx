import type { Metadata } from 'next';
import { AuthForm } from '@/components/auth-form';
import { safeNext } from '@/lib/session';

export const metadata: Metadata = { title: 'Log in' };

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ next?: string; expired?: string }> }) {
  const sp = await searchParams;
  return (
    <main className="auth-page" id="main">
      <div className="card">
        <h1 style={{ marginBottom: 4 }}>Log in to Toolgate</h1>
        <p className="muted" style={{ marginTop: 0 }}>
          Govern what your agents can do with MCP tools.
        </p>
        <AuthForm mode="login" next={safeNext(sp.next)} expired={sp.expired === '1'} />
      </div>
    </main>
  );
}
