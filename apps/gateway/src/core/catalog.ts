import type { SnapshotServer } from '@toolgate/contracts';
import { type Redactor, type RequestKind, templateVisible, visible } from '@toolgate/policy';
import type { Backend } from '../backends/types';
import type { Caller } from './caller';
import { advertises, LIST_KEY, type ListMethod, listAll } from './lists';
import { exposedName, exposedUri, unambiguous } from './naming';
import type { SessionState } from './sessions';
import { withTaskSupport } from './tasks';

const LIST_TTL_MS = 60_000;
const LIST_CHANGED: Record<string, ListMethod[]> = {
  'notifications/tools/list_changed': ['tools/list'],
  'notifications/prompts/list_changed': ['prompts/list'],
  'notifications/resources/list_changed': ['resources/list', 'resources/templates/list'],
};

export interface CatalogDeps {
  backendFor(caller: Caller, session: SessionState, server: SnapshotServer): Backend;
  redactor(caller: Caller, server: SnapshotServer): Redactor;
}

/**
 * What agents see in tools/list, prompts/list, resources/list and resources/templates/list:
 * each upstream's catalogue, cached raw per backend (a list_changed drops it), filtered by the
 * caller's policy, redacted, and namespaced on the aggregated endpoint.
 */
export class Catalog {
  private readonly lists = new Map<string, Map<ListMethod, { items: Record<string, unknown>[]; at: number }>>();

  constructor(private readonly deps: CatalogDeps) {}

  async list(caller: Caller, session: SessionState, servers: SnapshotServer[], method: ListMethod): Promise<Record<string, unknown>> {
    const results = await Promise.all(
      servers.map(async (server) => {
        try {
          // Catalogues are cached raw and shared; each caller gets them through its redactor.
          const redact = this.deps.redactor(caller, server);
          return { server, items: (await this.upstream(caller, session, server, method)).map((item) => redact(item)) };
        } catch (e) {
          // One broken upstream must not take the aggregated endpoint down; a single-server
          // endpoint has nothing else to show, so the agent gets the error.
          if (caller.scope) throw e;
          return { server, items: [] as Record<string, unknown>[] };
        }
      }),
    );
    const out: Record<string, unknown>[] = [];
    const named = !caller.scope && (method === 'tools/list' || method === 'prompts/list');
    for (const { server, items } of results) {
      for (const item of named ? unambiguous(server.slug, items) : items) {
        const shown = present(caller, server, method, item);
        if (shown) out.push(shown);
      }
    }
    return { [LIST_KEY[method]]: out };
  }

  /** The upstream's own catalogue (cached for LIST_TTL_MS); empty when the server does not offer it. */
  async upstream(caller: Caller, session: SessionState, server: SnapshotServer, method: ListMethod): Promise<Record<string, unknown>[]> {
    const backend = this.deps.backendFor(caller, session, server);
    const info = await backend.ready();
    if (!advertises(info.capabilities, method)) return [];
    const byMethod = this.lists.get(backend.key);
    const hit = byMethod?.get(method);
    if (hit && Date.now() - hit.at < LIST_TTL_MS) return hit.items;
    // An incomplete list (page cap, looping cursor) is served as far as it goes.
    const { items: all } = await listAll(backend, method, { sessionId: 'gateway' });
    const items = method === 'tools/list' ? withTaskSupport(info.capabilities, all) : all;
    const map = byMethod ?? new Map();
    map.set(method, { items, at: Date.now() });
    this.lists.set(backend.key, map);
    return items;
  }

  /** A backend announced a list change (`notification` is its method): its cached lists are stale. */
  changed(backendKey: string, notification: string): void {
    for (const m of LIST_CHANGED[notification] ?? []) this.lists.get(backendKey)?.delete(m);
  }

  forget(backendKey: string): void {
    this.lists.delete(backendKey);
  }
}

/** Filter one catalogue item by policy and namespace it for the aggregated endpoint. */
function present(caller: Caller, server: SnapshotServer, method: ListMethod, item: Record<string, unknown>) {
  const { snapshot, principal, scope } = caller;
  if (method === 'tools/list' || method === 'prompts/list') {
    const name = String(item.name);
    const kind: RequestKind = method === 'tools/list' ? 'tool' : 'prompt';
    if (!visible(snapshot, principal, kind, server.slug, name)) return null;
    return scope ? item : { ...item, name: exposedName(server.slug, name) };
  }
  if (method === 'resources/list') {
    const uri = String(item.uri);
    if (!visible(snapshot, principal, 'resource', server.slug, uri)) return null;
    return scope ? item : { ...item, uri: exposedUri(server.slug, uri) };
  }
  // Templates: listed when the policy could allow some URI of them (each read is decided).
  const template = String(item.uriTemplate);
  if (!templateVisible(snapshot, principal, server.slug, template)) return null;
  return scope ? item : { ...item, uriTemplate: exposedUri(server.slug, template) };
}
