/** The usage page's period picker: `?period=24h|7d|30d|month` (UTC, like the API's roll-ups). */

export const PERIODS = [
  { key: '24h', label: 'Last 24 hours' },
  { key: '7d', label: 'Last 7 days' },
  { key: '30d', label: 'Last 30 days' },
  { key: 'month', label: 'This month' },
] as const;
export type PeriodKey = (typeof PERIODS)[number]['key'];
export const DEFAULT_PERIOD: PeriodKey = '7d';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface Period {
  key: PeriodKey;
  label: string;
  from: Date;
  /** Exclusive, a whole hour. */
  to: Date;
  unit: 'hour' | 'day';
}

export function parsePeriod(raw: string | string[] | undefined): PeriodKey {
  const v = Array.isArray(raw) ? raw[0] : raw;
  return PERIODS.some((p) => p.key === v) ? (v as PeriodKey) : DEFAULT_PERIOD;
}

/**
 * 24 h: the last 24 whole hours, one bar per hour. 7 d / 30 d: whole UTC days ending today, one
 * bar per day. This month: from the 1st (UTC), one bar per day.
 */
export function resolvePeriod(key: PeriodKey, now = new Date()): Period {
  const label = PERIODS.find((p) => p.key === key)!.label;
  const to = new Date(Math.ceil((now.getTime() + 1) / HOUR) * HOUR);
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  switch (key) {
    case '24h':
      return { key, label, from: new Date(to.getTime() - 24 * HOUR), to, unit: 'hour' };
    case '7d':
      return { key, label, from: new Date(today - 6 * DAY), to, unit: 'day' };
    case '30d':
      return { key, label, from: new Date(today - 29 * DAY), to, unit: 'day' };
    case 'month':
      return { key, label, from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)), to, unit: 'day' };
  }
}

const dayFmt = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
const hourFmt = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'UTC', hourCycle: 'h23' });

/** A bucket's label on the chart axis and in the data table. */
export function bucketLabel(iso: string, unit: 'hour' | 'day'): string {
  const d = new Date(iso);
  return unit === 'hour' ? hourFmt.format(d) : dayFmt.format(d);
}

/** A bucket's full label (for the data table and tooltips). */
export function bucketLongLabel(iso: string, unit: 'hour' | 'day'): string {
  const d = new Date(iso);
  return unit === 'hour' ? `${dayFmt.format(d)}, ${hourFmt.format(d)} UTC` : `${dayFmt.format(d)} (UTC)`;
}

/** "Mar 1 – Mar 7 (UTC)" or "Mar 5, 14:00 – Mar 6, 14:00 UTC". */
export function rangeText(p: Period): string {
  if (p.unit === 'hour') return `${dayFmt.format(p.from)}, ${hourFmt.format(p.from)} – ${dayFmt.format(p.to)}, ${hourFmt.format(p.to)} UTC`;
  const last = new Date(p.to.getTime() - 1);
  return `${dayFmt.format(p.from)} – ${dayFmt.format(last)} (UTC)`;
}
