import { type UsageView, UsageGroupBy } from '@toolgate/contracts';
import { parseCommand } from './args';
import { usageError } from '../exit-codes';
import { type Output, table } from './output';
import { openSession, orgPath, resolveOrg } from './session';

export const USAGE_HELP = `toolgate usage [--month YYYY-MM] [--group-by day|hour|key|server|tool]
  The org's calls in a calendar month (UTC; default this month): totals, then one row per day
  (or per hour, key, server or tool). Billable = calls − denied.`;

export async function usage(args: string[], out: Output, env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseCommand('usage', args, { month: { type: 'string' }, 'group-by': { type: 'string' } });
  const { from, to, month } = monthRange(values.month);
  const groupBy = UsageGroupBy.safeParse(values['group-by'] ?? 'day');
  if (!groupBy.success) throw usageError(`--group-by ${groupBy.error.issues[0]!.message}`);
  const s = openSession(values.org, env);
  const org = await resolveOrg(s);
  const view = await s.api.get<UsageView>(orgPath(org, '/usage'), { from, to, groupBy: groupBy.data });
  out.result({ org, month, ...view }, () => render(org, month, view));
}

/** `2026-11` → [2026-11-01, 2026-12-01); no month: the current UTC month. */
function monthRange(v: string | undefined): { from: string; to: string; month: string } {
  const now = new Date();
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(v ?? `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`);
  if (!m) throw usageError(`--month takes YYYY-MM, got "${v}"`);
  const start = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  const end = new Date(Date.UTC(Number(m[1]), Number(m[2]), 1));
  return { from: start.toISOString(), to: end.toISOString(), month: `${m[1]}-${m[2]}` };
}

function render(org: string, month: string, v: UsageView): string {
  const t = v.totals;
  const head = `${org} ${month}: ${t.calls} calls, ${t.billable} billable, ${t.denied} denied, ${t.errors} errors`;
  const metrics = (r: { calls: number; billable: number; denied: number; errors: number }) => [r.calls, r.billable, r.denied, r.errors];
  let rows: unknown[][];
  let label: string;
  if (v.groupBy === 'key') [label, rows] = ['KEY', v.series.map((r) => [r.keyName ?? r.keyPrefix ?? r.keyId, ...metrics(r)])];
  else if (v.groupBy === 'server') [label, rows] = ['SERVER', v.series.map((r) => [r.serverSlug ?? r.serverId, ...metrics(r)])];
  else if (v.groupBy === 'tool')
    [label, rows] = ['TOOL', v.series.map((r) => [r.tool ? `${r.serverSlug ?? '?'}__${r.tool}` : '(no tool)', ...metrics(r)])];
  else {
    // Days read as dates; hours keep their time.
    const start = (iso: string) => (v.groupBy === 'day' ? iso.slice(0, 10) : iso);
    [label, rows] = [v.groupBy.toUpperCase(), v.series.filter((r) => r.calls > 0).map((r) => [start(r.start), ...metrics(r)])];
  }
  return rows.length === 0 ? head : `${head}\n${table([label, 'CALLS', 'BILLABLE', 'DENIED', 'ERRORS'], rows)}`;
}
