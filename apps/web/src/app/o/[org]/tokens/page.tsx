import type { ManagementTokenList } from '@toolgate/contracts/src/management-tokens';
import type { Metadata } from 'next';
import { forbidden, notFound } from 'next/navigation';
import { CreateToken } from '@/components/tokens/create-token';
import { TokenTable } from '@/components/tokens/token-table';
import { Card, Empty, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { publicApiUrl } from '@/lib/config';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'API tokens' };

/** Service accounts: the org's own tokens for automation (owners and admins). */
export default async function TokensPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org } = await getMembership(slug);
  if (!org) notFound();
  if (!can.manage(org.role)) forbidden();
  const tokens = await api<ManagementTokenList>(`/v1/orgs/${encodeURIComponent(org.slug)}/tokens`);
  return (
    <>
      <PageHeader
        title="API tokens"
        description="Service account tokens let CI, GitOps and the toolgate CLI call the Toolgate API for this organisation. They belong to the organisation, not to a person, so they keep working when members change. Personal tokens are on your account page."
      />
      <CreateToken
        target={{ kind: 'service_account', org: org.slug }}
        apiUrl={publicApiUrl()}
        // A token may carry only what its creator's role could do: admins cannot grant billing.
        allowedScopes={org.role === 'owner' ? ['read', 'manage', 'billing'] : ['read', 'manage']}
      />
      <Card>
        {tokens.items.length === 0 ? (
          <Empty title="No API tokens yet">
            <p className="muted" style={{ margin: 0 }}>
              Create one for each pipeline or tool, with only the scopes it needs.
            </p>
          </Empty>
        ) : (
          <TokenTable tokens={tokens.items} />
        )}
      </Card>
    </>
  );
}
