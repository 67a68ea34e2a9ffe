'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { call } from '@/lib/client';
import { type Catalogue, type CatalogueItem, exactRule, type ItemKind, matchedBy, resourcesMatchedBy } from './catalogue';
import { type Effect, setItem } from './draft';
import styles from './role-editor.module.css';
import type { RoleRules } from '@toolgate/contracts';
import type { ServerSummary } from './catalogue';

const KIND_LABEL: Record<ItemKind, string> = { tools: 'Tools', prompts: 'Prompts', resources: 'Resources' };

/** The rule (other than the item's own) that already decides an item, shown beside its boxes. */
function coveredBy(rules: RoleRules, kind: ItemKind, item: CatalogueItem, own: number): string | null {
  const list = (rules[kind] ?? []) as { effect?: unknown; match?: unknown; server?: unknown; uri?: unknown }[];
  const hits = list
    .map((r, i) => ({ r, i }))
    .filter(({ r, i }) => i !== own && r && (kind === 'resources' ? resourcesMatchedBy(r, [item]) : matchedBy(r.match, [item])).length > 0);
  const deny = hits.find(({ r }) => r.effect === 'deny');
  const hit = deny ?? hits[0];
  if (!hit) return null;
  return `${hit.r.effect === 'deny' ? 'denied' : 'allowed'} by ${kind}[${hit.i}] (${kind === 'resources' ? String(hit.r.uri) : String(hit.r.match)})`;
}

/**
 * Pick servers and tick what a role allows or denies, straight from each server's probed
 * catalogue. A tick writes an exact rule (`everything__echo`); "all tools of this server" writes
 * the server's glob (`everything__*`).
 */
export function CataloguePicker({
  org,
  servers,
  catalogue,
  rules,
  onChange,
}: {
  org: string;
  servers: ServerSummary[];
  catalogue: Catalogue;
  rules: RoleRules;
  onChange: (rules: RoleRules) => void;
}) {
  const enabled = servers.filter((s) => s.enabled);
  const probing = useFirstProbe(org, enabled);
  if (enabled.length === 0) {
    return <p className="muted">No enabled MCP servers yet: register one, and its tools appear here to tick.</p>;
  }
  return (
    <div className="stack" style={{ gap: 8 }}>
      {enabled.map((s) => {
        const items = (kind: ItemKind) => catalogue[kind].filter((i) => i.server === s.slug);
        const all = `${s.slug}__*`;
        const allIndex = (rules.tools ?? []).findIndex((r) => r && r.match === all);
        const allEffect = allIndex >= 0 ? (rules.tools?.[allIndex]?.effect ?? null) : null;
        const counts = (['tools', 'prompts', 'resources'] as const).map((k) => `${items(k).length} ${k}`).join(' · ');
        return (
          <details key={s.id} className={styles.server} open={enabled.length === 1 || !s.catalog} data-testid={`picker-${s.slug}`}>
            <summary>
              <strong>{s.name}</strong> <code className="small">{s.slug}</code>{' '}
              <span className="muted small">
                {s.catalog
                  ? counts
                  : probing[s.id] === 'busy'
                    ? 'reading its tools…'
                    : s.lastProbeAt || probing[s.id]
                      ? 'no catalogue'
                      : 'not probed yet'}
              </span>
            </summary>
            {!s.catalog ? (
              <p className="muted small" role="status" data-testid={`picker-probe-${s.slug}`}>
                {probing[s.id] === 'busy'
                  ? `Asking ${s.name} for its tools…`
                  : probing[s.id]
                    ? `Its tools could not be read: ${probing[s.id]}. Fix the server, or write a rule by pattern below.`
                    : 'Its catalogue is unknown until it is probed: press Probe on the server’s page, or write a rule by pattern below.'}
              </p>
            ) : (
              <div className="stack" style={{ gap: 10, marginTop: 8 }}>
                <label className="row" style={{ gap: 6 }}>
                  <input
                    type="checkbox"
                    checked={allEffect === 'allow'}
                    onChange={(e) =>
                      onChange(
                        setItem(rules, 'tools', { server: s.slug, name: '*', subject: all }, allIndex, e.target.checked ? 'allow' : null),
                      )
                    }
                  />
                  <span>
                    Allow every tool of {s.name}, including tools it adds later (<code>{all}</code>)
                  </span>
                </label>
                {(['tools', 'prompts', 'resources'] as const).map((kind) =>
                  items(kind).length === 0 ? null : (
                    <ItemTable key={kind} kind={kind} items={items(kind)} rules={rules} onChange={onChange} />
                  ),
                )}
              </div>
            )}
          </details>
        );
      })}
    </div>
  );
}

/**
 * Servers registered but never probed have no catalogue to tick from: ask the gateway for it
 * once (the same probe as the server page's button; only admins open the builder), then reload
 * the page's data. A server whose probe failed before is left alone: its page says why.
 */
function useFirstProbe(org: string, servers: ServerSummary[]): Record<string, string> {
  const router = useRouter();
  const [state, setState] = useState<Record<string, string>>({});
  const pending = servers.filter((s) => !s.catalog && !s.lastProbeAt).map((s) => s.id);
  const key = pending.join(',');
  useEffect(() => {
    if (!key) return;
    const ids = key.split(',');
    setState((prev) => ({ ...prev, ...Object.fromEntries(ids.map((id) => [id, 'busy'])) }));
    let live = true;
    void Promise.all(
      ids.map((id) =>
        call('POST', `/v1/orgs/${encodeURIComponent(org)}/servers/${id}/probe`)
          .then(() => [id, ''] as const)
          .catch((err: unknown) => [id, err instanceof Error ? err.message : 'the probe failed'] as const),
      ),
    ).then((results) => {
      if (!live) return;
      setState((prev) => ({ ...prev, ...Object.fromEntries(results) }));
      router.refresh();
    });
    return () => {
      live = false;
    };
  }, [org, key, router]);
  return state;
}

/** Above this many items a list gets a filter box: real servers (GitHub, Jira) offer dozens of tools. */
const FILTER_FROM = 10;

function ItemTable({
  kind,
  items,
  rules,
  onChange,
}: {
  kind: ItemKind;
  items: CatalogueItem[];
  rules: RoleRules;
  onChange: (rules: RoleRules) => void;
}) {
  const [filter, setFilter] = useState('');
  const needle = filter.trim().toLowerCase();
  const shown = needle ? items.filter((i) => `${i.name} ${i.description ?? ''}`.toLowerCase().includes(needle)) : items;
  return (
    <div className="table-wrap">
      {items.length >= FILTER_FROM ? (
        <input
          type="search"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          placeholder={`Filter ${items.length} ${kind}…`}
          aria-label={`Filter ${kind} of ${items[0]?.server}`}
          style={{ marginBottom: 6, maxWidth: 320 }}
        />
      ) : null}
      <table className={styles.items}>
        <thead>
          <tr>
            <th>{KIND_LABEL[kind]}</th>
            <th>Allow</th>
            <th>Deny</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((item) => {
            const index = exactRule(rules, kind, item);
            const effect = index >= 0 ? ((rules[kind]?.[index] as { effect?: unknown } | undefined)?.effect ?? null) : null;
            const other = coveredBy(rules, kind, item, index);
            const set = (e: Effect, on: boolean) => onChange(setItem(rules, kind, item, index, on ? e : null));
            return (
              <tr key={item.subject} data-testid={`item-${item.subject}`}>
                <td>
                  <code style={{ overflowWrap: 'anywhere' }}>{item.name}</code>
                  {item.description ? <div className="muted small">{item.description}</div> : null}
                  {other ? <div className="small">↳ {other}</div> : null}
                </td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Allow ${item.subject}`}
                    checked={effect === 'allow'}
                    onChange={(e) => set('allow', e.target.checked)}
                  />
                </td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Deny ${item.subject}`}
                    checked={effect === 'deny'}
                    onChange={(e) => set('deny', e.target.checked)}
                  />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
