import { AuditFilterFields } from '@toolgate/contracts/src/api/audit';
import { type AuditFilters, type AuditRow, FILTER_NAMES } from './model';

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
    // The API's own check of this filter (ListAuditQuery), so a kept filter never makes it answer 400.
    if (AuditFilterFields.shape[name].safeParse(v).success) filters[name] = v;
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
