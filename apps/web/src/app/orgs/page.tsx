import type { ManagementTokenList } from '@toolgate/contracts/src/management-tokens';
import type { Metadata } from 'next';
import Link from 'next/link';
import { ChangeNameForm, ChangePasswordForm, LogoutButton, SignOutEverywhere } from '@/components/account/account-settings';
import { CreateOrgForm } from '@/components/forms/create-org';
import { CreateToken } from '@/components/tokens/create-token';
import { TokenTable } from '@/components/tokens/token-table';
import { Badge, Card, Empty } from '@/components/ui';
import { api } from '@/lib/api';
import { publicApiUrl } from '@/lib/config';
import { getMe } from '@/lib/me';

export const metadata: Metadata = { title: 'Organisations' };

export default async function OrgsPage({ searchParams }: { searchParams: Promise<{ create?: string }> }) {
  const [me, tokens] = await Promise.all([getMe(), api<ManagementTokenList>('/v1/me/tokens')]);
  const { create } = await searchParams;
  return (
    <main className="main" id="main" style={{ maxWidth: 760, margin: '0 auto' }}>
      <div className="page-header">
        <div>
          <h1>Your organisations</h1>
          <p>Signed in as {me.email}</p>
        </div>
        <LogoutButton />
      </div>
      <Card title="Organisations">
        {me.orgs.length === 0 ? (
          <Empty title="You are not in any organisation yet">Create one below, or open an invitation link someone sent you.</Empty>
        ) : (
          <ul className="stack" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
            {me.orgs.map((o) => (
              <li key={o.id} className="row">
                <Link href={`/o/${o.slug}`}>{o.name}</Link>
                <span className="muted mono">{o.slug}</span>
                <span className="spacer" />
                <Badge>{o.role}</Badge>
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Card title="Create an organisation">
        <CreateOrgForm autoFocus={create === '1' || me.orgs.length === 0} />
      </Card>
      <Card title="Personal access tokens" id="tokens">
        <div className="stack">
          <p className="muted small" style={{ margin: 0 }}>
            For scripts and the toolgate CLI acting as you: each token works in one organisation, never with more than your role there, and
            stops working if you leave it.
          </p>
          {me.orgs.length > 0 ? (
            <CreateToken
              target={{ kind: 'personal', orgs: me.orgs.map((o) => ({ slug: o.slug, name: o.name })) }}
              apiUrl={publicApiUrl()}
            />
          ) : null}
          {tokens.items.length === 0 ? <Empty title="No personal tokens" /> : <TokenTable tokens={tokens.items} personal />}
        </div>
      </Card>
      <Card title="Your account" id="account">
        <div className="stack">
          <ChangeNameForm name={me.name} />
          <h3 style={{ margin: '8px 0 0' }}>Password</h3>
          <ChangePasswordForm />
          <h3 style={{ margin: '8px 0 0' }}>Sessions</h3>
          <SignOutEverywhere />
        </div>
      </Card>
    </main>
  );
}
