import type { Metadata } from 'next';
import Link from 'next/link';
import { BarChart, type ChartPoint } from '@/components/usage/bar-chart';
import { Breakdown, type BreakdownRow } from '@/components/usage/breakdown';
import { bucketLabel, bucketLongLabel, PERIODS, parsePeriod, rangeText, resolvePeriod } from '@/components/usage/periods';
import { QuotaCard } from '@/components/usage/quota';
import type { AlertsView, KeyUsage, ServerUsage, TimeUsage, ToolUsage } from '@toolgate/contracts';
import { avgLatency, formatMs } from '@/components/usage/latency';
import styles from '@/components/usage/usage.module.css';
import { Card, Empty, formatNumber, PageHeader } from '@/components/ui';
import { api } from '@/lib/api';
import { can } from '@/lib/access';
import { getMembership } from '@/lib/me';

export const metadata: Metadata = { title: 'Usage' };

type Search = Promise<Record<string, string | string[] | undefined>>;

export default async function UsagePage({ params, searchParams }: { params: Promise<{ org: string }>; searchParams: Search }) {
  const { org: slug } = await params;
  const { org: membership } = await getMembership(slug);
  const role = membership!.role;
  const period = resolvePeriod(parsePeriod((await searchParams).period));
  const base = `/v1/orgs/${encodeURIComponent(slug)}/usage`;
  const range = `from=${encodeURIComponent(period.from.toISOString())}&to=${encodeURIComponent(period.to.toISOString())}`;
  const [series, byKey, byServer, byTool, alerts] = await Promise.all([
    api<TimeUsage>(`${base}?${range}&groupBy=${period.unit}`),
    api<KeyUsage>(`${base}?${range}&groupBy=key&limit=50`),
    api<ServerUsage>(`${base}?${range}&groupBy=server&limit=50`),
    api<ToolUsage>(`${base}?${range}&groupBy=tool&limit=50`),
    api<AlertsView>(`${base}/alerts?limit=20`),
  ]);
  const t = series.totals;
  const unitWord = period.unit === 'hour' ? 'hour' : 'day';
  const points = (value: (m: TimeUsage['series'][number]) => number | null): ChartPoint[] =>
    series.series.map((s) => ({
      label: bucketLabel(s.start, period.unit),
      longLabel: bucketLongLabel(s.start, period.unit),
      value: value(s),
    }));
  const peak = (pts: ChartPoint[], fmt: (v: number) => string) => {
    const best = pts.reduce<ChartPoint | null>((b, p) => (p.value !== null && (b === null || p.value > (b.value ?? 0)) ? p : b), null);
    return best && (best.value ?? 0) > 0 ? `, highest ${fmt(best.value!)} on ${best.longLabel}` : '';
  };
  const count = (n: number) => formatNumber(Math.round(n));
  const charts = [
    { id: 'calls', title: `Calls per ${unitWord}`, pts: points((s) => s.calls), fmt: count, total: `${formatNumber(t.calls)} calls` },
    {
      id: 'errors',
      title: `Errors per ${unitWord}`,
      pts: points((s) => s.errors),
      fmt: count,
      total: `${formatNumber(t.errors)} errors`,
      color: 'var(--danger)',
    },
    {
      id: 'denied',
      title: `Denials per ${unitWord}`,
      pts: points((s) => s.denied),
      fmt: count,
      total: `${formatNumber(t.denied)} denied calls`,
      color: 'var(--warn)',
    },
    {
      id: 'latency',
      title: 'Average upstream latency',
      pts: points((s) => avgLatency(s)),
      fmt: (v: number) => formatMs(v),
      total: `average ${formatMs(avgLatency(t))}`,
      color: '#0b7285',
    },
  ];

  const keyRows: BreakdownRow[] = byKey.series.map((r) => ({
    ...r,
    id: r.keyId ?? '-',
    name: r.keyId ? (
      <>
        {r.keyName ?? 'Deleted key'} {r.keyPrefix ? <span className="mono muted">{r.keyPrefix}…</span> : null}
      </>
    ) : (
      <span className="muted">Without a key</span>
    ),
  }));
  const serverRows: BreakdownRow[] = byServer.series.map((r) => ({
    ...r,
    id: r.serverId ?? '-',
    name: r.serverId ? (
      <>
        {r.serverName ?? 'Deleted server'} {r.serverSlug ? <span className="mono muted">{r.serverSlug}</span> : null}
      </>
    ) : (
      <span className="muted">No server (gateway-level requests)</span>
    ),
  }));
  const toolRows: BreakdownRow[] = byTool.series.map((r) => ({
    ...r,
    id: `${r.serverId ?? '-'}/${r.tool ?? '-'}`,
    name: (
      <>
        <span className="mono">{r.tool ?? '(no tool)'}</span> {r.serverSlug ? <span className="muted small">on {r.serverSlug}</span> : null}
      </>
    ),
  }));

  return (
    <>
      <PageHeader
        title="Usage"
        description={`${period.label}: ${rangeText(period)}. Updated from hourly roll-ups a few seconds after each call.`}
        actions={
          <nav aria-label="Period" className={styles.picker}>
            {PERIODS.map((p) => (
              <Link
                key={p.key}
                href={`/o/${slug}/usage?period=${p.key}`}
                aria-current={p.key === period.key ? 'page' : undefined}
                scroll={false}
              >
                {p.label}
              </Link>
            ))}
          </nav>
        }
      />
      <div className={styles.stats} data-testid="usage-totals">
        <Stat label="Calls" value={formatNumber(t.calls)} testId="total-calls" />
        <Stat label="Errors" value={formatNumber(t.errors)} testId="total-errors" />
        <Stat label="Denied" value={formatNumber(t.denied)} testId="total-denied" />
        <Stat label="Billable" value={formatNumber(t.billable)} testId="total-billable" />
        <Stat label="Avg latency" value={formatMs(avgLatency(t))} testId="total-latency" />
      </div>
      <QuotaCard alerts={alerts} billingHref={can.billing(role) ? `/o/${slug}/billing` : undefined} />
      {t.calls === 0 ? (
        <Card>
          <Empty title="No usage in this period yet">
            <p className="muted" style={{ margin: '4px 0 0' }}>
              Calls made through the gateway with an agent key show up here within seconds.
              {can.read(role) ? (
                <>
                  {' '}
                  <Link href={`/o/${slug}/keys`}>Create an agent key</Link> and connect a client to get started.
                </>
              ) : null}
            </p>
          </Empty>
        </Card>
      ) : (
        <>
          <Card title="Over time" id="charts">
            <div className={styles.charts}>
              {charts.map((c) => (
                <BarChart
                  key={c.id}
                  id={c.id}
                  title={c.title}
                  points={c.pts}
                  format={c.fmt}
                  color={c.color}
                  integer={c.id !== 'latency'}
                  summary={`${c.total} from ${rangeText(period)}${peak(c.pts, c.fmt)}.`}
                />
              ))}
            </div>
          </Card>
          <Breakdown id="by-tool" title="By tool" nameHeader="Tool" rows={toolRows} truncated={byTool.truncated} limit={byTool.limit} />
          <Breakdown
            id="by-server"
            title="By server"
            nameHeader="Server"
            rows={serverRows}
            truncated={byServer.truncated}
            limit={byServer.limit}
          />
          <Breakdown id="by-key" title="By agent key" nameHeader="Key" rows={keyRows} truncated={byKey.truncated} limit={byKey.limit} />
        </>
      )}
    </>
  );
}

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="card">
      <div className="muted">{label}</div>
      <div className="stat" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}
