import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { ClientSnippets, EndpointLine } from '@/components/client-snippets';
import { EnabledBadge, HealthBadge } from '@/components/servers/badges';
import { type CatalogTryIt, CatalogView } from '@/components/servers/catalog';
import type { KeyView, RoleView } from '@toolgate/contracts';
import { DeleteServer, EnabledSwitch, ProbeButton } from '@/components/servers/server-actions';
import { loadSandbox } from '@/components/servers/sandbox';
import { SandboxNotice } from '@/components/servers/sandbox-notice';
import css from '@/components/servers/servers.module.css';
import type { ServerView, ValueSource } from '@toolgate/contracts';
import { ISOLATION_HINT, ISOLATION_LABEL, NETWORK_HINT, NETWORK_LABEL, TRANSPORT_LABEL } from '@/components/servers/labels';
import { Badge, Card, Empty, formatDate, Notice, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'MCP server' };

function ValueList({ map, org, noun }: { map: Record<string, ValueSource>; org: string; noun: string }) {
  const entries = Object.entries(map);
  if (entries.length === 0) return <span className="muted">No {noun}.</span>;
  return (
    <div className="table-wrap">
      <table aria-label={noun}>
        <tbody>
          {entries.map(([name, v]) => (
            <tr key={name}>
              <td>
                <code>{name}</code>
              </td>
              <td>
                {'secret' in v ? (
                  <>
                    <Badge kind="info">secret</Badge>{' '}
                    <Link href={`/o/${org}/secrets`}>
                      <code>{v.secret}</code>
                    </Link>
                  </>
                ) : (
                  <code style={{ overflowWrap: 'anywhere' }}>{v.value || '""'}</code>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** What agents get from this server now: usable only when enabled and its last probe did not fail. */
function agentsLine(s: Pick<ServerView, 'enabled' | 'health'>): string {
  if (!s.enabled) return 'Disabled: agents cannot see or call its tools';
  if (s.health === 'error') return 'Enabled, but the last probe failed: calls to its tools will likely fail until it answers again';
  if (s.health === 'unknown') return 'Enabled; not probed yet, so whether its tools work is unknown';
  return 'Can use its tools';
}

export default async function ServerPage({ params }: { params: Promise<{ org: string; id: string }> }) {
  const { org: slug, id } = await params;
  const { org } = await getMembership(slug);
  if (!org || !can.read(org.role)) forbidden();
  const manage = can.manage(org.role);
  const o = encodeURIComponent(org.slug);
  const [s, sandbox, principals] = await Promise.all([
    api<ServerView>(`/v1/orgs/${o}/servers/${encodeURIComponent(id)}`),
    loadSandbox(org.slug),
    // Whom Try it can call as: only admins may try, so only they load the choice.
    manage
      ? Promise.all([api<{ items: RoleView[] }>(`/v1/orgs/${o}/roles`), api<{ items: KeyView[] }>(`/v1/orgs/${o}/keys?status=active`)])
      : null,
  ]);
  const tryIt: CatalogTryIt | null = principals
    ? {
        org: org.slug,
        serverId: s.id,
        serverSlug: s.slug,
        as: {
          roles: principals[0].items.map((r) => ({ id: r.id, name: r.name })),
          keys: principals[1].items.map((k) => ({ id: k.id, name: k.name })),
        },
      }
    : null;
  // A server never probed (just registered) is probed on arrival, so its catalogue shows without a click.
  const autoProbe = manage && !s.lastProbeAt;
  const base = `/o/${org.slug}/servers`;
  const info = s.catalog?.serverInfo;

  return (
    <>
      <PageHeader
        title={s.name}
        description={
          <>
            <Link href={base}>MCP servers</Link> / <span className="mono">{s.slug}</span>
            {s.description ? <> — {s.description}</> : null}
          </>
        }
        actions={
          manage ? (
            <>
              <EnabledSwitch org={org.slug} id={s.id} enabled={s.enabled} />
              <Link className="btn" href={`${base}/${s.id}/edit`}>
                Edit
              </Link>
              <DeleteServer org={org.slug} id={s.id} slug={s.slug} />
            </>
          ) : (
            <EnabledBadge enabled={s.enabled} />
          )
        }
      />

      {s.transport === 'stdio' ? <SandboxNotice sandbox={sandbox} /> : null}
      <div className={css.twoCols} style={{ marginBottom: 16, alignItems: 'start' }}>
        <Card title="Health" id="health">
          <dl className={css.kv}>
            <dt>Health</dt>
            <dd data-testid="server-health">
              <HealthBadge health={s.health} />
            </dd>
            <dt>Agents</dt>
            <dd data-testid="server-agents">{agentsLine(s)}</dd>
            <dt>Last probe</dt>
            <dd data-testid="last-probe">{s.lastProbeAt ? formatDate(s.lastProbeAt) : 'Never'}</dd>
            <dt>Catalogue from</dt>
            <dd>{formatDate(s.catalogFetchedAt)}</dd>
            {info ? (
              <>
                <dt>Reports itself as</dt>
                <dd>
                  {info.title ?? info.name} <span className="muted">{info.version}</span>
                </dd>
              </>
            ) : null}
            {s.catalog?.protocolVersion ? (
              <>
                <dt>MCP protocol</dt>
                <dd className="mono">{s.catalog.protocolVersion}</dd>
              </>
            ) : null}
          </dl>
          {s.lastProbeError ? (
            <div style={{ marginTop: 12 }}>
              <Notice kind="error">
                <strong>Last probe failed:</strong> <span data-testid="last-probe-error">{s.lastProbeError}</span>
              </Notice>
            </div>
          ) : null}
          {manage ? (
            <div style={{ marginTop: 12 }}>
              <ProbeButton org={org.slug} id={s.id} primary={s.health !== 'ok'} auto={autoProbe} />
            </div>
          ) : null}
        </Card>

        <Card title="Configuration" id="config">
          <dl className={css.kv}>
            <dt>Transport</dt>
            <dd>{TRANSPORT_LABEL[s.transport]}</dd>
            <dt>Isolation</dt>
            <dd>
              <span data-testid="server-isolation">{ISOLATION_LABEL[s.isolation]}</span>
              <div className="muted small">{ISOLATION_HINT[s.isolation]}</div>
            </dd>
            {s.transport === 'stdio' ? (
              <>
                <dt>Command</dt>
                <dd>
                  <code data-testid="server-command">{s.command}</code>
                </dd>
                <dt>Arguments</dt>
                <dd>
                  {s.args.length ? (
                    <ol className={css.argList}>
                      {s.args.map((a, i) => (
                        // biome-ignore lint/suspicious/noArrayIndexKey: arguments are positional and may repeat
                        <li key={i}>
                          <code>{a}</code>
                        </li>
                      ))}
                    </ol>
                  ) : (
                    <span className="muted">None</span>
                  )}
                </dd>
                <dt>Environment</dt>
                <dd>
                  <ValueList map={s.env} org={org.slug} noun="environment variables" />
                </dd>
                <dt>Network</dt>
                <dd>
                  <span data-testid="server-network">{NETWORK_LABEL[s.network]}</span>
                  <div className="muted small">{NETWORK_HINT[s.network]}</div>
                </dd>
              </>
            ) : (
              <>
                <dt>URL</dt>
                <dd>
                  <code>{s.url}</code>
                </dd>
                <dt>Headers</dt>
                <dd>
                  <ValueList map={s.headers} org={org.slug} noun="headers" />
                </dd>
              </>
            )}
            <dt>Timeout</dt>
            <dd>{s.timeoutMs / 1000} s per call</dd>
            <dt>Tags</dt>
            <dd>{s.tags.length ? s.tags.map((t) => <Badge key={t}>{t}</Badge>) : <span className="muted">None</span>}</dd>
            <dt>Registered</dt>
            <dd>{formatDate(s.createdAt)}</dd>
            <dt>Changed</dt>
            <dd>{formatDate(s.updatedAt)}</dd>
          </dl>
        </Card>
      </div>

      <Card title="Connect" id="connect">
        <div className="stack">
          <p className="muted" style={{ margin: 0 }}>
            This server alone, or every server of the organisation at once (tool names are then prefixed with <code>{s.slug}__</code>). A
            key sees only the tools its roles allow.
          </p>
          <EndpointLine label="This server" url={s.endpoints.server} />
          <EndpointLine label="All servers" url={s.endpoints.aggregated} />
          <ClientSnippets endpoint={s.endpoints.server} name={`toolgate-${s.slug}`} />
        </div>
      </Card>

      <Card title="Catalogue" id="catalogue">
        {s.catalog ? (
          <CatalogView
            catalog={s.catalog}
            tryIt={s.enabled ? tryIt : null}
            give={s.enabled && manage ? { org: org.slug, serverSlug: s.slug, endpoint: s.endpoints.aggregated } : null}
          />
        ) : (
          <Empty title="No catalogue yet">
            <p>
              {autoProbe
                ? 'Probing the server now: its tools, prompts and resources show here when it answers.'
                : manage
                  ? 'Probe the server to connect to it and list its tools, prompts and resources.'
                  : 'An owner or admin can probe it.'}
            </p>
          </Empty>
        )}
      </Card>
    </>
  );
}
