import type { ConsentRequestView } from '@toolgate/contracts';
import type { Metadata } from 'next';
import Link from 'next/link';
import { ConsentForm } from '@/components/oauth/consent-form';
import { api, apiResult, failPage } from '@/lib/api';
import type { Me } from '@/lib/me';
import { humanize } from '@/lib/problem';

export const metadata: Metadata = { title: 'Connect an app', robots: { index: false } };

/**
 * Where the API's /authorize sends the browser: a signed-in person (the proxy sends everyone else
 * to login and back here) sees which app asks for which endpoint, and approves it with roles of
 * one of their organisations, or denies it. Framing is refused for every page (X-Frame-Options and
 * frame-ancestors), which matters most here: a framed consent page is the classic clickjacking
 * target.
 */
export default async function ConsentPage({ searchParams }: { searchParams: Promise<{ request?: string }> }) {
  const { request: id } = await searchParams;
  const me = await api<Me>('/v1/me');
  if (!id) return <Invalid title="This link is incomplete" detail="It names no authorization request." />;

  const r = await apiResult<ConsentRequestView>(`/v1/oauth/requests/${encodeURIComponent(id)}`);
  if (!r.ok) {
    const p = r.problem;
    if (p.status === 401 || p.status >= 500) return failPage(p);
    const title = p.status === 404 ? 'This authorization request is not valid' : 'This authorization request can no longer be used';
    return <Invalid title={title} detail={humanize(p)} />;
  }

  return (
    <main className="auth-page" id="main">
      <div className="card stack" data-testid="consent" style={{ maxWidth: 560 }}>
        <ConsentForm view={r.data} email={me.email} />
      </div>
    </main>
  );
}

function Invalid({ title, detail }: { title: string; detail: string }) {
  return (
    <main className="auth-page" id="main">
      <div className="card stack" data-testid="consent-invalid">
        <h1 style={{ margin: 0 }}>{title}</h1>
        <div className="notice warn" role="status" style={{ margin: 0 }}>
          {detail}
        </div>
        <p className="muted small" style={{ margin: 0 }}>
          Requests expire after a few minutes and can be used once. Go back to the app and connect again to start a new one.
        </p>
        <div className="row">
          <Link className="btn" href="/">
            Go to the dashboard
          </Link>
        </div>
      </div>
    </main>
  );
}
