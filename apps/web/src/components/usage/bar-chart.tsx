import styles from './usage.module.css';

export interface ChartPoint {
  /** Short axis label ("Mar 5", "14:00"). */
  label: string;
  /** Full label for the tooltip and the data table. */
  longLabel: string;
  /** null = no value for this bucket (e.g. latency without calls). */
  value: number | null;
}

const W = 480;
const H = 200;
const PAD = { top: 12, right: 8, bottom: 28, left: 64 };

/** The smallest 1/2/5 × 10ⁿ at or above `n` (at least 1), so the axis reads in round numbers. */
export function niceCeil(n: number): number {
  if (!(n > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/**
 * An inline SVG bar chart with a y axis (0, half, max) and a few x labels. Screen readers get a
 * one-line summary (role="img" + aria-label) and a data table behind a disclosure.
 */
export function BarChart({
  id,
  title,
  points,
  format,
  color = 'var(--accent)',
  summary,
  integer = false,
}: {
  id: string;
  title: string;
  points: ChartPoint[];
  format: (v: number) => string;
  color?: string;
  summary: string;
  /** Whole-number values: no fractional axis ticks. */
  integer?: boolean;
}) {
  const max = niceCeil(Math.max(0, ...points.map((p) => p.value ?? 0)));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const slot = innerW / Math.max(points.length, 1);
  const barW = Math.max(1, Math.min(28, slot * 0.72));
  const y = (v: number) => PAD.top + innerH - (v / max) * innerH;
  const every = Math.max(1, Math.ceil(points.length / 6));
  const ticks = [0, max / 2, max].filter((t) => !integer || Number.isInteger(t));
  return (
    <figure className={styles.chart} aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`} className={styles.chartTitle}>
        {title}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: ${summary}`} data-testid={`chart-${id}`} className={styles.svg}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} className={t === 0 ? styles.axis : styles.grid} />
            <text x={PAD.left - 6} y={y(t)} dy="0.32em" textAnchor="end" className={styles.tick}>
              {format(t)}
            </text>
          </g>
        ))}
        {points.map((p, i) => {
          const x = PAD.left + i * slot + (slot - barW) / 2;
          const v = p.value ?? 0;
          const h = Math.max(v > 0 ? 1.5 : 0, (v / max) * innerH);
          return (
            <g key={p.longLabel}>
              {h > 0 ? (
                <rect x={x} y={PAD.top + innerH - h} width={barW} height={h} rx={Math.min(3, barW / 3)} fill={color}>
                  <title>{`${p.longLabel}: ${p.value === null ? 'no data' : format(v)}`}</title>
                </rect>
              ) : null}
              {i % every === 0 ? (
                <text x={PAD.left + i * slot + slot / 2} y={H - 8} textAnchor="middle" className={styles.tick}>
                  {p.label}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <details className={styles.dataTable}>
        <summary>Show data table</summary>
        <div className="table-wrap">
          <table>
            <caption className="sr-only">{title}</caption>
            <thead>
              <tr>
                <th scope="col">Period</th>
                <th scope="col">{title}</th>
              </tr>
            </thead>
            <tbody>
              {points.map((p) => (
                <tr key={p.longLabel}>
                  <td>{p.longLabel}</td>
                  <td>{p.value === null ? '—' : format(p.value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
