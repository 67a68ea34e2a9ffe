import type { ReactNode } from 'react';
import { Badge, Empty } from '@/components/ui';
import css from './servers.module.css';
import type { JsonSchema, McpCatalog as Catalog, McpTool as CatalogTool } from '@toolgate/contracts';

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
    <div className="table-wrap">
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
    </div>
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

function Section({ id, title, count, children }: { id: string; title: string; count: number; children: ReactNode }) {
  return (
    <section className={css.section} aria-labelledby={id}>
      <h3 id={id}>
        {title} <span className="muted">({count})</span>
      </h3>
      {children}
    </section>
  );
}

/** What the last successful probe found: tools with their input schemas, prompts, resources. */
export function CatalogView({ catalog }: { catalog: Catalog }) {
  const { tools, prompts, resources, resourceTemplates } = catalog;
  return (
    <div data-testid="catalog">
      {catalog.instructions ? (
        <details className={css.raw} style={{ marginBottom: 12 }}>
          <summary>Instructions from the server</summary>
          <p style={{ whiteSpace: 'pre-line' }}>{catalog.instructions}</p>
        </details>
      ) : null}
      <Section id="cat-tools" title="Tools" count={tools.length}>
        {tools.length === 0 ? (
          <Empty title="This server offers no tools" />
        ) : (
          <ul className={css.tools}>
            {tools.map((t) => (
              <li key={t.name} className={css.tool} data-testid={`tool-${t.name}`}>
                <div className={css.toolHead}>
                  <span className={css.toolName}>{t.name}</span>
                  {t.title && t.title !== t.name ? <span className="muted">{t.title}</span> : null}
                  <ToolHints tool={t} />
                </div>
                {t.description ? <p className={css.toolDescription}>{t.description}</p> : null}
                <SchemaProperties schema={t.inputSchema} />
                <Raw label="Raw input schema (JSON)" value={t.inputSchema ?? {}} />
                {t.outputSchema ? <Raw label="Output schema (JSON)" value={t.outputSchema} /> : null}
              </li>
            ))}
          </ul>
        )}
      </Section>
      {prompts.length ? (
        <Section id="cat-prompts" title="Prompts" count={prompts.length}>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Prompt</th>
                  <th scope="col">Description</th>
                  <th scope="col">Arguments</th>
                </tr>
              </thead>
              <tbody>
                {prompts.map((p) => (
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
          </div>
        </Section>
      ) : null}
      {resources.length ? (
        <Section id="cat-resources" title="Resources" count={resources.length}>
          <ResourceTable rows={resources.slice(0, RESOURCES_SHOWN).map((r) => ({ ...r, address: r.uri }))} />
          {resources.length > RESOURCES_SHOWN ? (
            <details className={css.raw}>
              <summary>Show {resources.length - RESOURCES_SHOWN} more</summary>
              <ResourceTable rows={resources.slice(RESOURCES_SHOWN).map((r) => ({ ...r, address: r.uri }))} />
            </details>
          ) : null}
        </Section>
      ) : null}
      {resourceTemplates.length ? (
        <Section id="cat-templates" title="Resource templates" count={resourceTemplates.length}>
          <ResourceTable rows={resourceTemplates.map((r) => ({ ...r, address: r.uriTemplate }))} />
        </Section>
      ) : null}
    </div>
  );
}

function ResourceTable({ rows }: { rows: { address: string; name: string; description?: string; mimeType?: string }[] }) {
  return (
    <div className="table-wrap">
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
    </div>
  );
}
