import type { Metadata } from 'next';
import Link from 'next/link';
import { forbidden } from 'next/navigation';
import { AuditFiltersForm } from '@/components/audit/audit-filters';
import styles from '@/components/audit/audit.module.css';
import { ChainStatus } from '@/components/audit/chain-status';
import { hasFilters, queryString, readFilters } from '@/components/audit/filters';
import { LiveAuditTable } from '@/components/audit/live-audit-table';
import type { AuditPage } from '@toolgate/contracts';
import type { TargetNames } from '@/components/targets';
import { Card, Notice, PageHeader } from '@/components/ui';
import { apiResult, failPage } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Audit log' };

const CURSOR = /^[1-9][0-9]{0,15}$/;

export default async function AuditLogPage({
  params,
  searchParams,
}: {
  params: Promise<{ org: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { org: slug } = await params;
  const sp = await searchParams;
  const { org: membership } = await getMembership(slug);
  if (!membership || !can.read(membership.role)) forbidden();
  const o = encodeURIComponent(membership.slug);
  const base = `/o/${membership.slug}/audit`;

  const { filters, dropped } = readFilters(sp);
  const rawCursor = Array.isArray(sp.cursor) ? sp.cursor[0] : sp.cursor;
  const cursor = rawCursor && CURSOR.test(rawCursor) ? rawCursor : undefined;

  const [list, keys, servers, roles, members] = await Promise.all([
    apiResult<AuditPage>(`/v1/orgs/${o}/audit${queryString(filters, { cursor, limit: '50' })}`),
    apiResult<{ items: { id: string; name: string; prefix: string }[] }>(`/v1/orgs/${o}/keys?status=all`),
    apiResult<{ items: { id: string; slug: string; name: string }[] }>(`/v1/orgs/${o}/servers`),
    apiResult<{ items: { id: string; name: string }[] }>(`/v1/orgs/${o}/roles`),
    apiResult<{ items: { userId: string; email: string }[] }>(`/v1/orgs/${o}/members`),
  ]);
  if (!list.ok && [401, 403, 404].includes(list.problem.status)) await failPage(list.problem);

  const keyList = keys.ok ? keys.data.items.map((k) => ({ id: k.id, name: `${k.name} (${k.prefix}…)` })) : [];
  const serverList = servers.ok
    ? servers.data.items.map((s) => ({ id: s.id, name: s.name === s.slug ? s.slug : `${s.name} (${s.slug})` }))
    : [];
  const lookups: TargetNames = {
    keys: Object.fromEntries(keys.ok ? keys.data.items.map((k) => [k.id, k.name]) : []),
    servers: Object.fromEntries(servers.ok ? servers.data.items.map((s) => [s.id, s.slug]) : []),
    roles: Object.fromEntries(roles.ok ? roles.data.items.map((r) => [r.id, r.name]) : []),
    members: Object.fromEntries(members.ok ? members.data.items.map((m) => [m.userId, m.email]) : []),
  };
  const exportHref = `/api/v1/orgs/${o}/audit/export${queryString({ from: filters.from, to: filters.to }, { format: 'ndjson' })}`;
  // Two query strings that differ remount the table and the form (fresh state for fresh params).
  const stateKey = queryString(filters, { cursor });

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every call through the gateway and every admin action, in a tamper-evident hash chain."
        actions={
          <a
            className="btn"
            href={exportHref}
            download
            data-testid="audit-export"
            title={
              filters.from || filters.to
                ? 'Download the chain received in this time range as NDJSON (other filters do not apply: an export is a contiguous, verifiable run of the chain)'
                : 'Download the whole chain as NDJSON, with hashes to verify it offline'
            }
          >
            Export NDJSON{filters.from || filters.to ? ' (time range)' : ''}
          </a>
        }
      />
      <Card title="Chain integrity" id="chain">
        <ChainStatus org={membership.slug} />
      </Card>
      <Card title="Filters" id="filters">
        <AuditFiltersForm key={`f${stateKey}`} base={base} filters={filters} keys={keyList} servers={serverList} />
      </Card>
      <Card>
        {dropped.length > 0 ? (
          <Notice kind="warn">Some filters in the address were not valid and were ignored: {dropped.join(', ')}.</Notice>
        ) : null}
        {!list.ok ? (
          <Notice kind="error">Could not load the audit log: {list.problem.detail ?? 'the API answered with an error.'}</Notice>
        ) : (
          <>
            <LiveAuditTable
              key={`t${stateKey}`}
              org={membership.slug}
              initial={list.data.items}
              filters={filters}
              lookups={lookups}
              live={!cursor}
              filtered={hasFilters(filters)}
            />
            <nav className={styles.pager} aria-label="Pages">
              {cursor ? (
                <Link className="btn" href={`${base}${queryString(filters)}`}>
                  ← Newest
                </Link>
              ) : (
                <span />
              )}
              {list.data.nextCursor ? (
                <Link className="btn" href={`${base}${queryString(filters, { cursor: list.data.nextCursor })}`} rel="next">
                  Older →
                </Link>
              ) : list.data.items.length > 0 ? (
                <span className="muted small">That is the oldest event{hasFilters(filters) ? ' matching these filters' : ''}.</span>
              ) : null}
            </nav>
          </>
        )}
      </Card>
    </>
  );
}
