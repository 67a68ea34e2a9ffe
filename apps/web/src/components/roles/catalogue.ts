import { compileGlob } from '@toolgate/policy/src/glob';
import type { RoleRules, ServerView } from '@toolgate/contracts';
import { ruleSubject } from '@toolgate/policy/src/subject';

/** What the role builder reads of a server: its catalogue, and whether it was ever probed (null = never). */
export type ServerSummary = Pick<ServerView, 'id' | 'slug' | 'name' | 'enabled' | 'lastProbeAt' | 'catalog'>;

/**
 * What the role builder knows of the org's servers: the items of each probed catalogue, named
 * as rules match them (`server__tool` for tools and prompts, the URI for resources), and which
 * of them each rule of a draft matches, with the policy engine's own glob matcher.
 */
export type ItemKind = 'tools' | 'prompts' | 'resources';

export interface CatalogueItem {
  server: string;
  /** The tool's or prompt's own name, or the resource URI. */
  name: string;
  /** What rules match: `server__name`, or the URI for resources. */
  subject: string;
  description?: string;
  inputSchema?: unknown;
}

export interface Catalogue {
  probed: boolean;
  tools: CatalogueItem[];
  prompts: CatalogueItem[];
  resources: CatalogueItem[];
}

export function catalogueOf(servers: ServerSummary[]): Catalogue {
  const enabled = servers.filter((s) => s.enabled);
  const items = (kind: ItemKind) =>
    enabled.flatMap((s) =>
      ((s.catalog?.[kind] ?? []) as { name?: string; uri?: string; description?: string; inputSchema?: unknown }[]).map((item) => {
        const name = kind === 'resources' ? String(item.uri) : String(item.name);
        return {
          server: s.slug,
          name,
          subject: kind === 'resources' ? name : ruleSubject(s.slug, name),
          description: item.description,
          inputSchema: item.inputSchema,
        };
      }),
    );
  return {
    probed: enabled.some((s) => s.catalog !== null),
    tools: items('tools'),
    prompts: items('prompts'),
    resources: items('resources'),
  };
}

/** A matcher for a glob, or null for a value that is not one (the validation reports it). */
function matcher(glob: unknown): ((s: string) => boolean) | null {
  return typeof glob === 'string' && glob.length > 0 ? compileGlob(glob) : null;
}

/** The catalogue items a tool or prompt rule's `match` covers. */
export function matchedBy(match: unknown, items: CatalogueItem[]): CatalogueItem[] {
  const m = matcher(match);
  return m ? items.filter((i) => m(i.subject)) : [];
}

/** The resources a resource rule covers: its server glob (default `*`) and its URI glob. */
export function resourcesMatchedBy(rule: { server?: unknown; uri?: unknown }, items: CatalogueItem[]): CatalogueItem[] {
  const server = rule.server === undefined ? () => true : matcher(rule.server);
  const uri = matcher(rule.uri);
  return server && uri ? items.filter((i) => server(i.server) && uri(i.subject)) : [];
}

/** Edit distance, for "did you mean" on a literal name that matches nothing. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest real name to a pattern without wildcards (a typo such as `wether__alerts`), if close enough. */
export function closest(pattern: unknown, items: CatalogueItem[]): string | null {
  if (typeof pattern !== 'string' || /[*?]/.test(pattern)) return null;
  let best: { subject: string; d: number } | null = null;
  for (const i of items) {
    const d = distance(pattern, i.subject);
    if (d <= Math.max(2, Math.floor(pattern.length / 4)) && (!best || d < best.d)) best = { subject: i.subject, d };
  }
  return best?.subject ?? null;
}

/** The exact (wildcard-free) rule for one item, if the draft has one: what the tick boxes show and edit. */
export function exactRule(rules: RoleRules, kind: ItemKind, item: CatalogueItem): number {
  if (kind === 'resources') {
    return (rules.resources ?? []).findIndex((r) => r && r.uri === item.subject && r.server === item.server);
  }
  return ((rules[kind] ?? []) as { match?: unknown }[]).findIndex((r) => r && r.match === item.subject);
}
