/**
 * Turns an API error path (`rules.tools.2.constraints.customer_id.pattern`) into words a person
 * can find in the editor ("Tool rule 3 › constraint on "customer_id" › pattern").
 */
const SECTIONS: Record<string, string> = {
  tools: 'Tool rule',
  prompts: 'Prompt rule',
  resources: 'Resource rule',
  rateLimits: 'Rate limit',
  redact: 'Redaction',
  ipAllow: 'IP allow entry',
};

export function describePath(path: string): string {
  if (!path) return 'Request';
  const parts = path.split('.');
  if (parts[0] === 'name') return 'Name';
  if (parts[0] === 'description') return 'Description';
  if (parts[0] !== 'rules') return path;
  const out: string[] = ['Rules'];
  let i = 1;
  const section = parts[i];
  if (section !== undefined) {
    const label = SECTIONS[section];
    const index = parts[i + 1];
    if (label && index !== undefined && /^\d+$/.test(index)) {
      out.push(`${label} ${Number(index) + 1}`);
      i += 2;
    } else {
      out.push(label ? `${label}s` : section);
      i += 1;
    }
  }
  while (i < parts.length) {
    const p = parts[i]!;
    if (p === 'constraints' && parts[i + 1] !== undefined) {
      out.push(`constraint on "${parts[i + 1]}"`);
      i += 2;
      continue;
    }
    out.push(/^\d+$/.test(p) ? `item ${Number(p) + 1}` : p);
    i += 1;
  }
  return out.join(' › ');
}

/** The rule a simulate answer names (`tools[1]`, `ipAllow`), looked up in the role's rules. */
export function ruleAt(rules: unknown, path: string): unknown {
  const m = /^(\w+)(?:\[(\d+)\])?$/.exec(path);
  if (!m || typeof rules !== 'object' || rules === null) return undefined;
  const section = (rules as Record<string, unknown>)[m[1]!];
  if (m[2] === undefined) return section;
  return Array.isArray(section) ? section[Number(m[2])] : undefined;
}

/** How a policy value references key metadata, shown as help text. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal reference syntax, not a template.
export const METADATA_REF = '${key.metadata.<name>}';

const SECTION_ORDER = ['tools', 'prompts', 'resources', 'rateLimits', 'redact', 'ipAllow'];
const FIELD_ORDER = ['effect', 'match', 'server', 'uri', 'scope', 'perMinute', 'burst', 'name', 'pattern', 'replacement', 'constraints'];

function ordered(value: unknown, order: string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const rank = (k: string) => (order.includes(k) ? order.indexOf(k) : order.length);
  return Object.fromEntries(entries.sort(([a], [b]) => rank(a) - rank(b)));
}

/**
 * Rules as stored come back with their keys in the database's order (jsonb sorts them); for
 * reading and editing, sections and rule fields are put back in the order people write them.
 */
export function readableRules(rules: unknown): unknown {
  const top = ordered(rules, SECTION_ORDER);
  if (typeof top !== 'object' || top === null) return top;
  return Object.fromEntries(
    Object.entries(top as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? v.map((r) => ordered(r, FIELD_ORDER)) : v]),
  );
}
