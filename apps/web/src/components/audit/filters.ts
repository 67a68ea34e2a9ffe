import { type AuditFilters, type AuditRow, DECISIONS, FILTER_NAMES, OUTCOMES } from './types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isInstant = (s: string) =>
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s));

/**
 * Reads the filters from the page's search params, keeping only values the API accepts, so a
 * hand-edited URL shows the log (with the bad filter dropped) rather than an error page.
 */
export function readFilters(sp: Record<string, string | string[] | undefined>): { filters: AuditFilters; dropped: string[] } {
  const filters: AuditFilters = {};
  const dropped: string[] = [];
  for (const name of FILTER_NAMES) {
    const raw = sp[name];
    const v = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (!v) continue;
    const ok =
      name === 'from' || name === 'to'
        ? isInstant(v)
        : name === 'keyId' || name === 'serverId'
          ? UUID.test(v)
          : name === 'decision'
            ? (DECISIONS as readonly string[]).includes(v)
            : name === 'outcome'
              ? (OUTCOMES as readonly string[]).includes(v)
              : v.length <= (name === 'target' ? 2000 : 200);
    if (ok) filters[name] = v;
    else dropped.push(name);
  }
  if (filters.from && filters.to && Date.parse(filters.from) >= Date.parse(filters.to)) {
    delete filters.to;
    dropped.push('to');
  }
  return { filters, dropped };
}

/** `?a=1&b=2` (or '') from filters plus extra params. */
export function queryString(filters: AuditFilters, extra: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const name of FILTER_NAMES) {
    const v = filters[name];
    if (v) q.set(name, v);
  }
  for (const [k, v] of Object.entries(extra)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const hasFilters = (f: AuditFilters) => FILTER_NAMES.some((n) => !!f[n]);

/** Whether a live event belongs in the table under these filters (the API's rules, client-side). */
export function matches(e: AuditRow, f: AuditFilters): boolean {
  const at = Date.parse(e.at);
  if (f.from && at < Date.parse(f.from)) return false;
  if (f.to && at >= Date.parse(f.to)) return false;
  if (f.keyId && e.keyId?.toLowerCase() !== f.keyId.toLowerCase()) return false;
  if (f.serverId && e.serverId?.toLowerCase() !== f.serverId.toLowerCase()) return false;
  if (f.target && e.target !== f.target) return false;
  if (f.method && e.method !== f.method) return false;
  if (f.decision && e.decision !== f.decision) return false;
  if (f.outcome && e.outcome !== f.outcome) return false;
  return true;
}
