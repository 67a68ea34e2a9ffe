import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { CreateSecretForm, DeleteSecret, ReplaceSecret } from '@/components/secrets/secret-forms';
import css from '@/components/secrets/secrets.module.css';
import type { SecretView } from '@toolgate/contracts';
import { Card, Empty, formatDate, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Secrets' };

export default async function SecretsPage({ params }: { params: Promise<{ org: string }> }) {
  const { org: slug } = await params;
  const { org } = await getMembership(slug);
  if (!org || !can.read(org.role)) forbidden();
  const manage = can.manage(org.role);
  const { items } = await api<{ items: SecretView[] }>(`/v1/orgs/${encodeURIComponent(org.slug)}/secrets`);
  const secrets = [...items].sort((a, b) => a.name.localeCompare(b.name));

  return (
    <>
      <PageHeader
        title="Secrets"
        description="Credentials your MCP servers need, referenced from their environment variables or headers. Values are encrypted and never shown again."
      />
      {manage ? (
        <Card title="New secret" id="new-secret">
          <CreateSecretForm org={org.slug} existing={secrets.map((s) => s.name)} />
        </Card>
      ) : null}
      <Card title="Secrets" id="secrets">
        {secrets.length === 0 ? (
          <Empty title="No secrets yet">
            <p>
              {manage
                ? 'Create one above, then pick it as the source of a server’s environment variable or header.'
                : 'An owner or admin can create them.'}
            </p>
          </Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="Secrets" className={css.table}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Used by</th>
                  <th scope="col">Updated</th>
                  {manage ? (
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {secrets.map((s) => (
                  <tr key={s.name} data-testid={`secret-row-${s.name}`}>
                    <td>
                      <code>{s.name}</code>
                      {s.description ? <div className="muted small">{s.description}</div> : null}
                    </td>
                    <td data-testid="used-by" data-label="Used by">
                      {s.usedBy.length ? (
                        <span className="row" style={{ gap: 6 }}>
                          {s.usedBy.map((u) => (
                            <Link key={u.serverId} href={`/o/${org.slug}/servers/${u.serverId}`} className="mono">
                              {u.slug}
                            </Link>
                          ))}
                        </span>
                      ) : (
                        <span className="muted">Not used</span>
                      )}
                    </td>
                    <td className="small" data-testid="updated-at" data-label="Updated">
                      {formatDate(s.updatedAt)}
                    </td>
                    {manage ? (
                      <td>
                        <span className="row" style={{ gap: 6, flexWrap: 'nowrap' }}>
                          <ReplaceSecret org={org.slug} name={s.name} />
                          <DeleteSecret org={org.slug} name={s.name} usedBy={s.usedBy.map((u) => u.slug)} />
                        </span>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}
