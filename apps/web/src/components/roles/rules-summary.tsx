import { Badge, TableScroll } from '@/components/ui';
import { type Catalogue, matchedBy, resourcesMatchedBy } from './catalogue';
import type { ParamConstraint, RoleRules } from '@toolgate/contracts';

function constraintText(arg: string, c: ParamConstraint): string {
  const parts: string[] = [];
  if (c.required) parts.push('required');
  if (c.equals !== undefined) parts.push(`= ${JSON.stringify(c.equals)}`);
  if (Array.isArray(c.oneOf)) parts.push(`one of ${c.oneOf.map((v) => JSON.stringify(v)).join(', ')}`);
  if (c.pattern !== undefined) parts.push(`matches /${c.pattern}/`);
  if (c.min !== undefined) parts.push(`≥ ${c.min}`);
  if (c.max !== undefined) parts.push(`≤ ${c.max}`);
  if (c.maxLength !== undefined) parts.push(`at most ${c.maxLength} characters`);
  return `${arg}: ${parts.join(', ') || 'any'}`;
}

const EffectBadge = ({ effect }: { effect: string }) => <Badge kind={effect === 'deny' ? 'danger' : 'ok'}>{effect}</Badge>;

/**
 * The rules of a role in words: one row per rule, in the order the policy engine reads them
 * (any matching deny wins; otherwise the first matching allow whose constraints hold).
 */
export function RulesSummary({ rules, catalogue }: { rules: RoleRules; catalogue?: Catalogue }) {
  // Drafts may hold anything the JSON view was given: draw only what is drawable.
  const objects = <T,>(v: unknown): T[] => (Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as T[]) : []);
  const tools = objects<NonNullable<RoleRules['tools']>[number]>(rules.tools);
  const prompts = objects<NonNullable<RoleRules['prompts']>[number]>(rules.prompts);
  const resources = objects<NonNullable<RoleRules['resources']>[number]>(rules.resources);
  const limits = objects<NonNullable<RoleRules['rateLimits']>[number]>(rules.rateLimits);
  const redact = objects<NonNullable<RoleRules['redact']>[number]>(rules.redact);
  const ips = Array.isArray(rules.ipAllow) ? rules.ipAllow.map(String) : [];
  const rows: { id: string; kind: string; effect?: string; what: string; detail?: string; matches?: string[] }[] = [
    ...tools.map((r, i) => ({
      id: `tools[${i}]`,
      kind: 'Tool',
      effect: r.effect,
      what: r.match,
      detail:
        r.constraints && typeof r.constraints === 'object' && Object.keys(r.constraints).length > 0
          ? Object.entries(r.constraints)
              .map(([a, c]) => constraintText(a, c && typeof c === 'object' ? c : {}))
              .join('; ')
          : undefined,
      matches: catalogue && matchedBy(r.match, catalogue.tools).map((m) => m.subject),
    })),
    ...prompts.map((r, i) => ({
      id: `prompts[${i}]`,
      kind: 'Prompt',
      effect: r.effect,
      what: r.match,
      matches: catalogue && matchedBy(r.match, catalogue.prompts).map((m) => m.subject),
    })),
    ...resources.map((r, i) => ({
      id: `resources[${i}]`,
      kind: 'Resource',
      effect: r.effect,
      what: r.uri,
      detail: `on server ${r.server ?? '*'}`,
      matches: catalogue && resourcesMatchedBy(r, catalogue.resources).map((m) => m.subject),
    })),
    ...limits.map((r, i) => ({
      id: `rateLimits[${i}]`,
      kind: 'Rate limit',
      what: `${r.perMinute} calls per minute${r.burst ? ` (burst ${r.burst})` : ''}`,
      detail: r.scope === 'tool' ? `per tool matching ${r.match ?? '*'}` : 'per key',
    })),
    ...redact.map((r, i) => ({
      id: `redact[${i}]`,
      kind: 'Redaction',
      what: r.name,
      detail: `/${r.pattern}/ → ${r.replacement ?? '[REDACTED]'}`,
    })),
  ];
  if (ips.length > 0)
    rows.push({ id: 'ipAllow', kind: 'IP allow-list', what: ips.join(', '), detail: 'connections from elsewhere are denied' });

  if (rows.length === 0) {
    return <p className="muted">No rules: a key with only this role is denied everything.</p>;
  }
  return (
    <TableScroll label="Rules">
      <table data-testid="rules-summary">
        <thead>
          <tr>
            <th>Rule</th>
            <th>Kind</th>
            <th>Effect</th>
            <th>Matches</th>
            <th>Conditions</th>
            {catalogue?.probed ? <th>Real items it matches</th> : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td className="mono small">{r.id}</td>
              <td>{r.kind}</td>
              <td>{r.effect ? <EffectBadge effect={r.effect} /> : <span className="muted">—</span>}</td>
              <td className="mono" style={{ overflowWrap: 'anywhere' }}>
                {String(r.what ?? '')}
              </td>
              <td className="small" style={{ overflowWrap: 'anywhere' }}>
                {r.detail ?? <span className="muted">—</span>}
              </td>
              {catalogue?.probed ? (
                <td className="small mono" style={{ overflowWrap: 'anywhere' }} data-testid="summary-matches">
                  {r.matches === undefined ? (
                    <span className="muted">—</span>
                  ) : r.matches.length === 0 ? (
                    <Badge kind="warn">matches nothing</Badge>
                  ) : (
                    r.matches.join(', ')
                  )}
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

/** "3 tool rules · 1 rate limit": a one-line count for the roles list. */
export function rulesCount(rules: RoleRules): string {
  const parts: [number, string][] = [
    [rules.tools?.length ?? 0, 'tool rule'],
    [rules.prompts?.length ?? 0, 'prompt rule'],
    [rules.resources?.length ?? 0, 'resource rule'],
    [rules.rateLimits?.length ?? 0, 'rate limit'],
    [rules.redact?.length ?? 0, 'redaction'],
    [rules.ipAllow?.length ?? 0, 'IP range'],
  ];
  const text = parts
    .filter(([n]) => n > 0)
    .map(([n, w]) => `${n} ${w}${n === 1 ? '' : 's'}`)
    .join(' · ');
  return text || 'no rules';
}
