'use client';

import { type ReactNode, useState } from 'react';
import { type TryAsChoice, TryIt } from '@/components/try-it/try-it';
import { Badge, Empty, TableScroll } from '@/components/ui';
import { GiveTools, type GiveToolsTarget } from './give-tools';
import css from './servers.module.css';
import type { JsonSchema, McpCatalog as Catalog, McpTool as CatalogTool } from '@toolgate/contracts';

/** What the catalogue needs to offer Try it on each tool (owners and admins only). */
export interface CatalogTryIt {
  org: string;
  serverId: string;
  serverSlug: string;
  as: TryAsChoice;
}

/** Resources beyond this many are folded away (servers can list hundreds). */
const RESOURCES_SHOWN = 20;

/** A short, readable type for a JSON schema: `string`, `number[]`, `"a" | "b"`, `object`. */
export function typeOf(s: JsonSchema | undefined): string {
  if (!s || typeof s !== 'object') return 'any';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const union = s.anyOf ?? s.oneOf;
  if (Array.isArray(union)) return union.map(typeOf).join(' | ');
  if (s.$ref) return s.$ref.split('/').pop() ?? 'ref';
  const t = Array.isArray(s.type) ? s.type.join(' | ') : s.type;
  if (t === 'array') {
    const items = Array.isArray(s.items) ? s.items[0] : s.items;
    const inner = typeOf(items);
    return inner.includes(' ') ? `(${inner})[]` : `${inner}[]`;
  }
  if (t) return t;
  if (s.properties) return 'object';
  return 'any';
}

function constraints(s: JsonSchema): string[] {
  const out: string[] = [];
  if (s.default !== undefined) out.push(`default ${JSON.stringify(s.default)}`);
  if (s.format) out.push(`format ${s.format}`);
  if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
  if (s.minLength !== undefined) out.push(`min length ${s.minLength}`);
  if (s.maxLength !== undefined) out.push(`max length ${s.maxLength}`);
  if (s.minItems !== undefined) out.push(`min ${s.minItems} items`);
  if (s.maxItems !== undefined) out.push(`max ${s.maxItems} items`);
  if (s.pattern) out.push(`pattern ${s.pattern}`);
  return out;
}

/** The nested object schema worth listing under a property (an object, or an array of objects). */
function nestedObject(s: JsonSchema): JsonSchema | null {
  if (s.properties && Object.keys(s.properties).length) return s;
  const items = Array.isArray(s.items) ? s.items[0] : s.items;
  if (items?.properties && Object.keys(items.properties).length) return items;
  return null;
}

/** A schema's properties as a table: name, type, required, description and constraints, nested objects inline. */
export function SchemaProperties({ schema, depth = 0 }: { schema: JsonSchema | undefined; depth?: number }) {
  const props = Object.entries(schema?.properties ?? {});
  if (props.length === 0)
    return (
      <p className="muted small" style={{ margin: 0 }}>
        No arguments.
      </p>
    );
  const required = new Set(schema?.required ?? []);
  return (
    <TableScroll label="Arguments">
      <table className={css.schema}>
        {depth === 0 ? (
          <colgroup>
            <col style={{ width: '26%' }} />
            <col style={{ width: '22%' }} />
            <col />
          </colgroup>
        ) : null}
        {depth === 0 ? (
          <thead>
            <tr>
              <th scope="col">Argument</th>
              <th scope="col">Type</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
        ) : null}
        <tbody>
          {props.map(([name, p]) => {
            const nested = depth < 3 ? nestedObject(p) : null;
            const extra = constraints(p);
            return (
              <tr key={name}>
                <td>
                  <code>{name}</code>
                  {required.has(name) ? (
                    <>
                      {' '}
                      <Badge kind="warn">required</Badge>
                    </>
                  ) : null}
                </td>
                <td>
                  <code>{typeOf(p)}</code>
                </td>
                <td>
                  {p.description ?? p.title ?? <span className="muted">—</span>}
                  {extra.length ? <div className="muted small">{extra.join(' · ')}</div> : null}
                  {nested ? (
                    <div className={css.nested}>
                      <SchemaProperties schema={nested} depth={depth + 1} />
                    </div>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableScroll>
  );
}

function Raw({ label, value }: { label: string; value: unknown }) {
  return (
    <details className={css.raw}>
      <summary>{label}</summary>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}

function ToolHints({ tool }: { tool: CatalogTool }) {
  const a = tool.annotations ?? {};
  const hints: ReactNode[] = [];
  if (a.readOnlyHint) hints.push(<Badge key="ro">read-only</Badge>);
  if (a.destructiveHint && !a.readOnlyHint)
    hints.push(
      <Badge key="d" kind="danger">
        destructive
      </Badge>,
    );
  if (a.idempotentHint) hints.push(<Badge key="i">idempotent</Badge>);
  if (a.openWorldHint) hints.push(<Badge key="o">open world</Badge>);
  return hints.length ? hints : null;
}

/** A catalogue section that folds away; its count says how many items match the search. */
function Section({ id, title, shown, total, children }: { id: string; title: string; shown: number; total: number; children: ReactNode }) {
  return (
    <details className={css.section} open aria-labelledby={id} id={`${id}-section`}>
      <summary className={css.sectionSummary}>
        <h3 id={id}>
          {title}{' '}
          <span className="muted" data-testid={`${id}-count`}>
            ({shown === total ? total : `${shown} of ${total}`})
          </span>
        </h3>
      </summary>
      {children}
    </details>
  );
}

const matches = (query: string, ...texts: (string | undefined)[]) => query === '' || texts.some((t) => t?.toLowerCase().includes(query));

/** One tool: name, hints, description, arguments, and (for admins) a Try it form that opens in place. */
function ToolItem({
  t,
  tryIt,
  selected,
  onSelect,
}: {
  t: CatalogTool;
  tryIt: CatalogTryIt | null;
  selected: boolean;
  onSelect: ((on: boolean) => void) | null;
}) {
  const [trying, setTrying] = useState(false);
  return (
    <li className={css.tool} data-testid={`tool-${t.name}`}>
      <div className={css.toolHead}>
        {onSelect ? (
          <input
            type="checkbox"
            checked={selected}
            onChange={(e) => onSelect(e.target.checked)}
            aria-label={`Give ${t.name} to an agent`}
          />
        ) : null}
        <span className={css.toolName}>{t.name}</span>
        {t.title && t.title !== t.name ? <span className="muted">{t.title}</span> : null}
        <ToolHints tool={t} />
        {tryIt ? (
          <button
            type="button"
            className={`btn small ${css.tryButton}`}
            aria-expanded={trying}
            onClick={() => setTrying((v) => !v)}
            aria-label={`${trying ? 'Close' : 'Try it'}: ${t.name}`}
          >
            {trying ? 'Close' : 'Try it'}
          </button>
        ) : null}
      </div>
      {t.description ? <p className={css.toolDescription}>{t.description}</p> : null}
      {trying && tryIt ? (
        <div className={css.tryPanel}>
          <TryIt org={tryIt.org} targets={[{ serverId: tryIt.serverId, serverSlug: tryIt.serverSlug, tool: t }]} as={tryIt.as} />
        </div>
      ) : null}
      <SchemaProperties schema={t.inputSchema} />
      <Raw label="Raw input schema (JSON)" value={t.inputSchema ?? {}} />
      {t.outputSchema ? <Raw label="Output schema (JSON)" value={t.outputSchema} /> : null}
    </li>
  );
}

/**
 * What the last successful probe found: tools with their input schemas, prompts, resources. A
 * search box filters every section; sections fold; the section links stay in view while scrolling.
 * With `give` (admins), tools can be ticked and given to an agent in one step.
 */
export function CatalogView({
  catalog,
  tryIt = null,
  give = null,
}: {
  catalog: Catalog;
  tryIt?: CatalogTryIt | null;
  give?: GiveToolsTarget | null;
}) {
  const { tools, prompts, resources, resourceTemplates } = catalog;
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<string[]>([]);
  const select = (name: string) => (on: boolean) =>
    setSelected((now) => (on ? [...now.filter((n) => n !== name), name] : now.filter((n) => n !== name)));
  const q = search.trim().toLowerCase();
  const shownTools = tools.filter((t) => matches(q, t.name, t.title, t.description));
  const shownPrompts = prompts.filter((p) => matches(q, p.name, p.description));
  const shownResources = resources.filter((r) => matches(q, r.name, r.uri, r.description));
  const shownTemplates = resourceTemplates.filter((r) => matches(q, r.name, r.uriTemplate, r.description));
  const sections = [
    { id: 'cat-tools', title: 'Tools', shown: shownTools.length, total: tools.length },
    { id: 'cat-prompts', title: 'Prompts', shown: shownPrompts.length, total: prompts.length },
    { id: 'cat-resources', title: 'Resources', shown: shownResources.length, total: resources.length },
    { id: 'cat-templates', title: 'Templates', shown: shownTemplates.length, total: resourceTemplates.length },
  ].filter((x) => x.id === 'cat-tools' || x.total > 0);
  const noMatch = (what: string) => (
    <p className="muted small">
      No {what} match “{search.trim()}”.
    </p>
  );
  return (
    <div data-testid="catalog">
      <div className={css.catalogBar}>
        <input
          type="search"
          placeholder="Search tools, prompts and resources"
          aria-label="Search the catalogue"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          className={css.catalogSearch}
        />
        <nav aria-label="Catalogue sections" className={css.catalogNav}>
          {sections.map((x) => (
            <a key={x.id} href={`#${x.id}-section`}>
              {x.title} <span className="muted">{x.shown}</span>
            </a>
          ))}
        </nav>
      </div>
      {give ? <GiveTools target={give} selected={selected} onClear={() => setSelected([])} /> : null}
      {catalog.instructions ? (
        <details className={css.raw} style={{ marginBottom: 12 }}>
          <summary>Instructions from the server</summary>
          <p style={{ whiteSpace: 'pre-line' }}>{catalog.instructions}</p>
        </details>
      ) : null}
      <Section id="cat-tools" title="Tools" shown={shownTools.length} total={tools.length}>
        {tools.length === 0 ? (
          <Empty title="This server offers no tools" />
        ) : shownTools.length === 0 ? (
          noMatch('tools')
        ) : (
          <ul className={css.tools}>
            {shownTools.map((t) => (
              <ToolItem key={t.name} t={t} tryIt={tryIt} selected={selected.includes(t.name)} onSelect={give ? select(t.name) : null} />
            ))}
          </ul>
        )}
      </Section>
      {prompts.length ? (
        <Section id="cat-prompts" title="Prompts" shown={shownPrompts.length} total={prompts.length}>
          {shownPrompts.length === 0 ? (
            noMatch('prompts')
          ) : (
            <TableScroll label="Prompts">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Prompt</th>
                    <th scope="col">Description</th>
                    <th scope="col">Arguments</th>
                  </tr>
                </thead>
                <tbody>
                  {shownPrompts.map((p) => (
                    <tr key={p.name}>
                      <td>
                        <code>{p.name}</code>
                      </td>
                      <td>{p.description ?? <span className="muted">—</span>}</td>
                      <td>
                        {p.arguments?.length ? (
                          p.arguments.map((a) => (
                            <div key={a.name}>
                              <code>{a.name}</code>
                              {a.required ? ' (required)' : ''}
                              {a.description ? <span className="muted"> — {a.description}</span> : null}
                            </div>
                          ))
                        ) : (
                          <span className="muted">none</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          )}
        </Section>
      ) : null}
      {resources.length ? (
        <Section id="cat-resources" title="Resources" shown={shownResources.length} total={resources.length}>
          {shownResources.length === 0 ? (
            noMatch('resources')
          ) : (
            <>
              <ResourceTable rows={shownResources.slice(0, RESOURCES_SHOWN).map((r) => ({ ...r, address: r.uri }))} />
              {shownResources.length > RESOURCES_SHOWN ? (
                <details className={css.raw}>
                  <summary>Show {shownResources.length - RESOURCES_SHOWN} more</summary>
                  <ResourceTable rows={shownResources.slice(RESOURCES_SHOWN).map((r) => ({ ...r, address: r.uri }))} />
                </details>
              ) : null}
            </>
          )}
        </Section>
      ) : null}
      {resourceTemplates.length ? (
        <Section id="cat-templates" title="Resource templates" shown={shownTemplates.length} total={resourceTemplates.length}>
          {shownTemplates.length === 0 ? (
            noMatch('templates')
          ) : (
            <ResourceTable rows={shownTemplates.map((r) => ({ ...r, address: r.uriTemplate }))} />
          )}
        </Section>
      ) : null}
    </div>
  );
}

function ResourceTable({ rows }: { rows: { address: string; name: string; description?: string; mimeType?: string }[] }) {
  return (
    <TableScroll label="Resources">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">URI</th>
            <th scope="col">Type</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.address}>
              <td>
                {r.name}
                {r.description ? <div className="muted small">{r.description}</div> : null}
              </td>
              <td>
                <code style={{ overflowWrap: 'anywhere' }}>{r.address}</code>
              </td>
              <td className="muted">{r.mimeType ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
