import { MAX_CATALOG_BYTES, type ProbeRequest, ServerCatalog } from '@toolgate/contracts';
import type { BackendFactories } from '../backends/pool';
import { type Backend, BackendError } from '../backends/types';
import { openBackendSpec } from '../core/backend-spec';
import { advertises, LIST_KEY, LIST_METHODS, type ListMethod, listAll, MAX_PAGES } from '../core/lists';
import { makeRedactor, type Redactor } from '@toolgate/policy';

export interface ProbeDeps {
  secretKey: Buffer;
  /** The same factories as the backend pool: a probe runs the server exactly as agent calls do. */
  factories: BackendFactories;
}

export type ProbeOutcome = { catalog: ServerCatalog } | { error: string };

type Stage = 'initialize' | ListMethod;

/** A failure whose message is already the sentence to report. */
class ProbeFailure extends Error {}
class ProbeTimeout extends Error {}
class ProbeAborted extends Error {}

/**
 * Start the requested server on a one-off backend (never pooled), read its catalogue and close
 * it, all before the request's deadline. Whatever happens the backend is closed before this
 * resolves; it never rejects. Secret values are redacted from the catalogue and the error.
 * `signal` aborts the probe (the worker is shutting down).
 */
export async function runProbe(req: ProbeRequest, deps: ProbeDeps, signal?: AbortSignal): Promise<ProbeOutcome> {
  const budgetMs = Math.max(0, req.deadline - Date.now());
  let redact: Redactor = (v) => v;
  let backend: Backend;
  try {
    const opened = openBackendSpec(deps.secretKey, req.orgId, req.server, req.secrets);
    redact = makeRedactor(opened.secrets, []);
    const factory = deps.factories[req.server.transport];
    if (!factory) return { error: `this gateway worker has no backend for the ${req.server.transport} transport` };
    // Its own key: a probe never shares (or replaces) a pooled backend of the same config.
    backend = factory({ ...opened.spec, key: `probe:${req.id}` });
  } catch (e) {
    return { error: redact(messageOf(e)) };
  }

  const abort = new AbortController();
  let stage: Stage = 'initialize';
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout()), budgetMs);
    onAbort = () => reject(new ProbeAborted());
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  const work = (async (): Promise<ServerCatalog> => {
    const info = await backend.ready();
    const lists: Record<string, Record<string, unknown>[]> = {};
    for (const method of LIST_METHODS) {
      lists[LIST_KEY[method]] = [];
      if (!advertises(info.capabilities, method)) continue;
      stage = method;
      // A call's own timeout falls after the deadline, so the deadline's message is the one told.
      const timeoutMs = Math.max(1, req.deadline - Date.now()) + 1000;
      const { items, more } = await listAll(backend, method, { sessionId: `probe:${req.id}`, signal: abort.signal, timeoutMs });
      if (more === 'cursor-loop') throw new ProbeFailure(`${method} returned the same nextCursor twice; the server's pagination loops`);
      if (more === 'page-limit')
        throw new ProbeFailure(`${method} still had more pages after ${MAX_PAGES}; the catalogue would be incomplete`);
      lists[LIST_KEY[method]] = items;
    }
    const parsed = ServerCatalog.safeParse({
      protocolVersion: info.protocolVersion,
      serverInfo: info.serverInfo,
      capabilities: info.capabilities,
      instructions: info.instructions ?? null,
      ...lists,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ProbeFailure(`the server's catalogue does not follow the MCP schema (${issue.path.join('.')}: ${issue.message})`);
    }
    const size = Buffer.byteLength(JSON.stringify(parsed.data));
    if (size > MAX_CATALOG_BYTES) {
      throw new ProbeFailure(
        `the server's catalogue is too large (${(size / 1048576).toFixed(1)} MiB; the limit is ${MAX_CATALOG_BYTES / 1048576} MiB)`,
      );
    }
    return parsed.data;
  })();
  // When the deadline wins the race, `work` still settles later: keep that from being unhandled.
  work.catch(() => undefined);

  let outcome: ProbeOutcome;
  try {
    outcome = { catalog: redact(await Promise.race([work, stop])) };
  } catch (e) {
    outcome = { error: redact(describe(e, stage, budgetMs)) };
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    // Calls still in flight send notifications/cancelled before the backend goes.
    abort.abort();
    await backend.close().catch(() => undefined);
  }
  return outcome;
}

const STAGE_TEXT: Record<Stage, string> = {
  initialize: 'waiting for the server to initialize',
  'tools/list': 'waiting for tools/list',
  'prompts/list': 'waiting for prompts/list',
  'resources/list': 'waiting for resources/list',
  'resources/templates/list': 'waiting for resources/templates/list',
};

function describe(e: unknown, stage: Stage, budgetMs: number): string {
  if (e instanceof ProbeTimeout) return `timed out after ${(budgetMs / 1000).toFixed(1)} s ${STAGE_TEXT[stage]}`;
  if (e instanceof ProbeAborted) return `the gateway worker shut down ${STAGE_TEXT[stage]}; probe again`;
  if (e instanceof ProbeFailure) return e.message;
  if (stage !== 'initialize') return `${stage} failed: ${messageOf(e)}`;
  // The server's own JSON-RPC error says nothing about where it came from; transport failures do.
  return e instanceof BackendError && e.kind === 'upstream' ? `the server refused initialize: ${e.message}` : messageOf(e);
}

/** Backend errors already read as sentences ("MCP server "x" exited with code 3. Last stderr …"). */
/** The probe's answer goes to the org's admins: a crashed server's stderr (masked) is theirs to see. */
function messageOf(e: unknown): string {
  if (e instanceof BackendError && e.operator.stderrTail) return `${e.message}. Last stderr output: ${e.operator.stderrTail}`;
  return e instanceof Error ? e.message : String(e);
}
