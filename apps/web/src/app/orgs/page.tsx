import type { Metadata } from 'next';
import Link from 'next/link';
import { Badge, Card, Empty } from '@/components/ui';
import { CreateOrgForm } from '@/components/forms/create-org';
import { getMe } from '@/lib/me';

export const metadata: Metadata = { title: 'Organisations' };

export default async function OrgsPage({ searchParams }: { searchParams: Promise<{ create?: string }> }) {
  const me = await getMe();
  const { create } = await searchParams;
  return (
    <main className="main" id="main" style={{ maxWidth: 760, margin: '0 auto' }}>
      <div className="page-header">
        <div>
          <h1>Your organisations</h1>
          <p>Signed in as {me.email}</p>
        </div>
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
    </main>
  );
}
