/** "3 minutes ago", "in 5 days": for last-used and expiry columns (the exact date goes in a title). */
export function relativeTime(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '—';
  const diff = t - now;
  const abs = Math.abs(diff);
  // [unit length, name, shown from]: days up to two months, months up to two years.
  const units: [number, string, number][] = [
    [365 * 86_400_000, 'year', 730 * 86_400_000],
    [30 * 86_400_000, 'month', 60 * 86_400_000],
    [86_400_000, 'day', 86_400_000],
    [3_600_000, 'hour', 3_600_000],
    [60_000, 'minute', 60_000],
  ];
  for (const [ms, unit, from] of units) {
    if (abs >= from) {
      const n = Math.floor(abs / ms);
      const text = `${n} ${unit}${n === 1 ? '' : 's'}`;
      return diff < 0 ? `${text} ago` : `in ${text}`;
    }
  }
  return diff < 0 ? 'just now' : 'in under a minute';
}
