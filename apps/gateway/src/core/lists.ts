import type { Backend, CallContext } from '../backends/types';

/**
 * The four catalogue lists of an upstream, read whole by following nextCursor. Agent-facing
 * lists (McpCore) and probes read them through the same helper.
 */
export type ListMethod = 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';
export const LIST_METHODS: readonly ListMethod[] = ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list'];

/** Where each list's items are in its result. */
export const LIST_KEY = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
} as const satisfies Record<ListMethod, string>;

const LIST_CAPABILITY: Record<ListMethod, string> = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resources',
};

/** Catalogue pages fetched from one upstream at most (a broken paginator cannot loop us forever). */
export const MAX_PAGES = 50;

/** Does the server advertise the capability of this list? Asking otherwise is a protocol error. */
export function advertises(capabilities: Record<string, unknown>, method: ListMethod): boolean {
  return Boolean(capabilities[LIST_CAPABILITY[method]]);
}

/**
 * Every item of one list. Stops after MAX_PAGES pages or at a cursor it has already followed;
 * `more` then says the list is incomplete (the caller decides whether that is an error).
 */
export async function listAll(
  backend: Backend,
  method: ListMethod,
  ctx: CallContext,
): Promise<{ items: Record<string, unknown>[]; more: 'page-limit' | 'cursor-loop' | null }> {
  const items: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await backend.request(method, cursor === undefined ? {} : { cursor }, ctx);
    const got = res[LIST_KEY[method]];
    if (Array.isArray(got)) items.push(...(got as Record<string, unknown>[]));
    const next = res.nextCursor;
    if (typeof next !== 'string' || next === '') return { items, more: null };
    if (seen.has(next)) return { items, more: 'cursor-loop' };
    seen.add(next);
    cursor = next;
  }
  return { items, more: 'page-limit' };
}
