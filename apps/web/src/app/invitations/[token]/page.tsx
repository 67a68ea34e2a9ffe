import type { Metadata } from 'next';
import Link from 'next/link';
import { AcceptInvitation, SwitchAccount } from '@/components/members/accept-invitation';
import { formatDate } from '@/components/ui';
import { apiResult } from '@/lib/api';
import type { MemberRole } from '@/lib/access';
import type { Me } from '@/lib/me';
import { humanize } from '@/lib/problem';

export const metadata: Metadata = { title: 'Invitation' };

interface Preview {
  org: { slug: string; name: string };
  email: string;
  role: MemberRole;
  expiresAt: string;
  invitedBy: { name: string } | null;
}

/**
 * Public: the token in the URL is the credential. Shows what the invitation is for, then lets a
 * logged-in person with the invited email join, or sends others to log in / sign up and back.
 */
export default async function InvitationPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const [preview, me] = await Promise.all([apiResult<Preview>(`/v1/invitations/${encodeURIComponent(token)}`), apiResult<Me>('/v1/me')]);
  const here = `/invitations/${encodeURIComponent(token)}`;
  const user = me.ok ? me.data : null;

  if (!preview.ok) {
    const p = preview.problem;
    const title =
      p.reason === 'accepted'
        ? 'This invitation was already used'
        : p.reason === 'expired'
          ? 'This invitation has expired'
          : p.status === 404
            ? 'This invitation link is not valid'
            : 'The invitation cannot be shown right now';
    return (
      <main className="auth-page" id="main">
        <div className="card stack" data-testid="invitation-invalid">
          <h1 style={{ margin: 0 }}>{title}</h1>
          <div className="notice warn" role="status" style={{ margin: 0 }}>
            {humanize(p)}
          </div>
          <p className="muted small" style={{ margin: 0 }}>
            Ask an owner or admin of the organisation to send you a new link.
          </p>
          <div className="row">
            <Link className="btn" href={user ? '/' : '/login'}>
              {user ? 'Go to the dashboard' : 'Log in'}
            </Link>
          </div>
        </div>
      </main>
    );
  }

  const inv = preview.data;
  const member = user?.orgs.find((o) => o.slug === inv.org.slug);
  const sameEmail = user ? user.email.toLowerCase() === inv.email.toLowerCase() : false;
  const next = encodeURIComponent(here);

  return (
    <main className="auth-page" id="main">
      <div className="card stack" data-testid="invitation">
        <div>
          <p className="muted small" style={{ margin: 0 }}>
            Invitation to Toolgate
          </p>
          <h1 style={{ margin: '4px 0 0' }}>Join {inv.org.name}</h1>
        </div>
        <p style={{ margin: 0 }}>
          {inv.invitedBy ? <strong>{inv.invitedBy.name}</strong> : 'An admin'} invited <strong>{inv.email}</strong> to join{' '}
          <strong>{inv.org.name}</strong> as <span className="badge info">{inv.role}</span>.
        </p>
        <dl className="small" style={{ margin: 0, display: 'grid', gridTemplateColumns: 'auto 1fr', gap: '4px 12px' }}>
          <dt className="muted">Organisation</dt>
          <dd style={{ margin: 0 }}>
            {inv.org.name} <span className="mono muted">({inv.org.slug})</span>
          </dd>
          <dt className="muted">Role</dt>
          <dd style={{ margin: 0 }}>{inv.role}</dd>
          <dt className="muted">For</dt>
          <dd style={{ margin: 0 }} className="mono">
            {inv.email}
          </dd>
          <dt className="muted">Expires</dt>
          <dd style={{ margin: 0 }}>{formatDate(inv.expiresAt)}</dd>
        </dl>
        {!user ? (
          <>
            <p className="muted small" style={{ margin: 0 }}>
              Log in or create an account with <strong>{inv.email}</strong> to accept.
            </p>
            <div className="row">
              <Link className="btn primary" href={`/login?next=${next}`}>
                Log in to accept
              </Link>
              <Link className="btn" href={`/signup?next=${next}`}>
                Sign up to accept
              </Link>
            </div>
          </>
        ) : !sameEmail ? (
          <>
            <div className="notice warn" role="status" style={{ margin: 0 }}>
              This invitation was sent to <strong>{inv.email}</strong>, but you are logged in as <strong>{user.email}</strong>. Log in with{' '}
              {inv.email} to accept it.
            </div>
            <SwitchAccount next={here} />
          </>
        ) : member ? (
          <>
            <div className="notice info" role="status" style={{ margin: 0 }}>
              You are already a member of {inv.org.name} (as {member.role}).
            </div>
            <div>
              <Link className="btn primary" href={`/o/${member.slug}`}>
                Open {inv.org.name}
              </Link>
            </div>
          </>
        ) : (
          <>
            <p className="muted small" style={{ margin: 0 }}>
              Logged in as {user.email}.
            </p>
            <AcceptInvitation token={token} orgName={inv.org.name} />
          </>
        )}
      </div>
    </main>
  );
}
