import type { ReactNode } from 'react';
import type { UsageMetrics as Metrics } from '@toolgate/contracts';
import { Card, formatNumber, TableScroll } from '@/components/ui';
import { avgLatency, formatMs } from './latency';
import styles from './usage.module.css';

export interface BreakdownRow extends Metrics {
  id: string;
  name: ReactNode;
}

/** One grouping of the period's usage (by key, server or tool), largest first. */
export function Breakdown({
  id,
  title,
  nameHeader,
  rows: all,
  truncated,
  limit,
}: {
  id: string;
  title: string;
  nameHeader: string;
  rows: BreakdownRow[];
  truncated: boolean;
  limit: number;
}) {
  // Requests that are not tool calls (initialize, tools/list…) roll up with zero calls: not shown.
  const rows = all.filter((r) => r.calls > 0 || r.errors > 0 || r.denied > 0);
  const max = Math.max(1, ...rows.map((r) => r.calls));
  return (
    <Card title={title} id={id}>
      {rows.length === 0 ? (
        <p className="muted" style={{ margin: 0 }}>
          No calls in this period.
        </p>
      ) : (
        <TableScroll label={title}>
          <table data-testid={`breakdown-${id}`}>
            <thead>
              <tr>
                <th scope="col">{nameHeader}</th>
                <th scope="col" className={styles.num}>
                  Calls
                </th>
                <th scope="col" className={styles.num}>
                  Errors
                </th>
                <th scope="col" className={styles.num}>
                  Denied
                </th>
                <th scope="col" className={styles.num}>
                  Avg latency
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id}>
                  <td>{r.name}</td>
                  <td className={styles.num}>
                    {formatNumber(r.calls)}
                    <span className={styles.share} aria-hidden="true">
                      <span style={{ width: `${(r.calls / max) * 100}%` }} />
                    </span>
                  </td>
                  <td className={styles.num}>{formatNumber(r.errors)}</td>
                  <td className={styles.num}>{formatNumber(r.denied)}</td>
                  <td className={styles.num}>{formatMs(avgLatency(r))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      {truncated ? <p className="muted small">Showing the {formatNumber(limit)} largest; the rest are left out.</p> : null}
    </Card>
  );
}
