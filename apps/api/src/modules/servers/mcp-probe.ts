import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport, SseError } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode as McpErrorCode,
  type Implementation,
  ListPromptsResultSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesResultSchema,
  ListToolsResultSchema,
  McpError,
  type Prompt,
  type Resource,
  type ResourceTemplate,
  type ServerCapabilities,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { ServerTransport } from '@toolgate/contracts';
import { ChildProcessTransport } from './child-process-transport';

/** What a probe learns about a server; cached on the server row and shown in the dashboard. */
export interface ServerCatalog {
  protocolVersion: string | null;
  serverInfo: Implementation | null;
  capabilities: ServerCapabilities;
  instructions: string | null;
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
}

/** A server to probe, with every secret already opened. */
export interface ProbeTarget {
  transport: ServerTransport;
  command: string | null;
  args: string[];
  url: string | null;
  headers: Record<string, string>;
  /** The complete environment of a stdio child (base variables included). */
  env: Record<string, string>;
  /** Values that must never appear in an error message (opened secrets). */
  redact: string[];
}

/** A probe that failed, with a message a person can act on (secret values already redacted). */
export class ProbeFailure extends Error {
  override readonly name = 'ProbeFailure';
}

/** Stop following `nextCursor` after this many pages of one list. */
const MAX_PAGES = 50;
/** Refuse catalogs larger than this (JSON), so a runaway server cannot bloat every server read. */
const MAX_CATALOG_BYTES = 4 * 1024 * 1024;
/** How long a failed stdio child gets to flush stderr, and a closing child gets per signal. */
const CHILD_CLOSE_GRACE_MS = 500;
/** How long an HTTP upstream gets to acknowledge the DELETE ending the probe's session. */
const SESSION_END_MS = 1000;
const CLIENT_INFO = { name: 'toolgate-probe', version: '1.0.0' };

type Stage = 'initialize' | 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';

class ProbeTimeout extends Error {}

/**
 * Connect to an MCP server for real, read its catalog (following pagination), and disconnect.
 * The whole probe is bounded by `timeoutMs`; whatever happens, the connection is closed and a
 * stdio child (with anything it started) is gone when this returns or throws.
 * Throws ProbeFailure.
 */
export async function probeMcpServer(target: ProbeTarget, timeoutMs: number): Promise<ServerCatalog> {
  const transport = createTransport(target);
  // The Client does not expose the negotiated protocol version, but it hands it to the transport.
  let protocolVersion: string | null = null;
  const setProtocolVersion = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (version: string) => {
    protocolVersion = version;
    setProtocolVersion?.(version);
  };

  const client = new Client(CLIENT_INFO, { capabilities: {} });
  // Transport hiccups are reported through the request that fails; nothing to do with them here.
  client.onerror = () => undefined;

  const abort = new AbortController();
  const options: RequestOptions = { signal: abort.signal, timeout: timeoutMs };
  let stage: Stage = 'initialize';
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new ProbeTimeout());
    }, timeoutMs);
  });

  const work = (async (): Promise<ServerCatalog> => {
    await client.connect(transport, options);
    const capabilities = client.getServerCapabilities() ?? {};

    const page = <T>(s: Stage, fetch: (cursor?: string) => Promise<{ items: T[]; nextCursor?: string }>) => {
      stage = s;
      return collectPages(s, fetch);
    };
    const params = (cursor?: string) => (cursor === undefined ? {} : { cursor });
    // Each list only if the server advertises the capability (asking otherwise is a protocol error).
    const tools = capabilities.tools
      ? await page('tools/list', async (c) => {
          const r = await client.request({ method: 'tools/list', params: params(c) }, ListToolsResultSchema, options);
          return { items: r.tools, nextCursor: r.nextCursor };
        })
      : [];
    const prompts = capabilities.prompts
      ? await page('prompts/list', async (c) => {
          const r = await client.request({ method: 'prompts/list', params: params(c) }, ListPromptsResultSchema, options);
          return { items: r.prompts, nextCursor: r.nextCursor };
        })
      : [];
    const resources = capabilities.resources
      ? await page('resources/list', async (c) => {
          const r = await client.request({ method: 'resources/list', params: params(c) }, ListResourcesResultSchema, options);
          return { items: r.resources, nextCursor: r.nextCursor };
        })
      : [];
    const resourceTemplates = capabilities.resources
      ? await page('resources/templates/list', async (c) => {
          const r = await client.request(
            { method: 'resources/templates/list', params: params(c) },
            ListResourceTemplatesResultSchema,
            options,
          );
          return { items: r.resourceTemplates, nextCursor: r.nextCursor };
        })
      : [];

    const catalog: ServerCatalog = {
      protocolVersion,
      serverInfo: client.getServerVersion() ?? null,
      capabilities,
      instructions: client.getInstructions() ?? null,
      tools,
      prompts,
      resources,
      resourceTemplates,
    };
    const size = Buffer.byteLength(JSON.stringify(catalog));
    if (size > MAX_CATALOG_BYTES) {
      throw new ProbeFailure(
        `the server's catalog is too large (${(size / 1048576).toFixed(1)} MB; the limit is ${MAX_CATALOG_BYTES / 1048576} MB)`,
      );
    }
    return catalog;
  })();
  // If the deadline wins the race, `work` still settles later: keep that from being unhandled.
  work.catch(() => undefined);

  let catalog: ServerCatalog | undefined;
  let failure: { error: unknown } | undefined;
  try {
    catalog = await Promise.race([work, deadline]);
  } catch (error) {
    failure = { error };
  }
  clearTimeout(timer);
  await shutdown(client, transport);
  if (failure) {
    // Described after shutdown: by then a dead child's exit status and stderr are complete.
    throw new ProbeFailure(redact(describe(failure.error, { target, stage, timeoutMs, transport }), target.redact));
  }
  return catalog!;
}

function createTransport(t: ProbeTarget): Transport {
  if (t.transport === 'stdio') {
    return new ChildProcessTransport({ command: t.command!, args: t.args, env: t.env, closeGraceMs: CHILD_CLOSE_GRACE_MS });
  }
  const url = new URL(t.url!);
  const requestInit: RequestInit = { headers: t.headers };
  return t.transport === 'sse' ? new SSEClientTransport(url, { requestInit }) : new StreamableHTTPClientTransport(url, { requestInit });
}

/** Follow `nextCursor` until the last page, bounded, and refusing a cursor that repeats. */
async function collectPages<T>(method: string, fetch: (cursor?: string) => Promise<{ items: T[]; nextCursor?: string }>): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const page = await fetch(cursor);
    items.push(...page.items);
    if (page.nextCursor === undefined || page.nextCursor === '') return items;
    if (seen.has(page.nextCursor)) throw new ProbeFailure(`${method} returned the same nextCursor twice; the server's pagination loops`);
    seen.add(page.nextCursor);
    cursor = page.nextCursor;
  }
  throw new ProbeFailure(`${method} still had more pages after ${MAX_PAGES}; the catalog would be incomplete`);
}

/** Close the session politely, then the connection; for stdio, make sure the child is gone. */
async function shutdown(client: Client, transport: Transport): Promise<void> {
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId) {
    // Without the DELETE the upstream would keep the probe's session until it expires.
    await Promise.race([transport.terminateSession().catch(() => undefined), sleep(SESSION_END_MS)]);
  }
  await client.close().catch(() => undefined);
  // Client.close() does not await a transport that never finished connecting; this does.
  if (transport instanceof ChildProcessTransport) await transport.close();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

const STAGE_TEXT: Record<Stage, string> = {
  initialize: 'waiting for the server to initialize',
  'tools/list': 'waiting for tools/list',
  'prompts/list': 'waiting for prompts/list',
  'resources/list': 'waiting for resources/list',
  'resources/templates/list': 'waiting for resources/templates/list',
};

interface Context {
  target: ProbeTarget;
  stage: Stage;
  timeoutMs: number;
  transport: Transport;
}

/** Turn whatever went wrong into one sentence a person can act on. */
function describe(e: unknown, ctx: Context): string {
  if (e instanceof ProbeFailure) return e.message;
  const { target, stage, timeoutMs } = ctx;
  const child = ctx.transport instanceof ChildProcessTransport ? ctx.transport : null;
  const timedOut = e instanceof ProbeTimeout || (e instanceof McpError && e.code === McpErrorCode.RequestTimeout);

  if (child) {
    const err = e as NodeJS.ErrnoException;
    if (typeof err?.syscall === 'string' && err.syscall.startsWith('spawn')) {
      if (err.code === 'ENOENT') return `command not found: ${target.command}`;
      if (err.code === 'EACCES') return `permission denied running ${target.command} (is it executable?)`;
      return `could not start ${target.command}: ${err.message}`;
    }
    const stderr = child.stderrTail;
    const stdoutHint = child.nonJsonStdout
      ? `; it wrote a line to stdout that is not JSON-RPC ("${child.nonJsonStdout}") — stdio servers must log to stderr`
      : '';
    if (timedOut) {
      // A child killed by our own shutdown after the deadline is not "exited": report the timeout.
      return `timed out after ${timeoutMs} ms ${STAGE_TEXT[stage]}${stdoutHint}${stderr ? `; stderr: ${stderr}` : ''}`;
    }
    const exit = child.exit;
    if (exit) {
      const how = exit.signal ? `server was killed by ${exit.signal}` : `server exited with code ${exit.code}`;
      const when = stage === 'initialize' ? ' before completing initialization' : ` ${STAGE_TEXT[stage]}`;
      return `${how}${when}${stdoutHint}${stderr ? `: ${stderr}` : ' (nothing on stderr)'}`;
    }
    return `${stageFailed(stage)}: ${messageOf(e)}${stdoutHint}${stderr ? `; stderr: ${stderr}` : ''}`;
  }

  const url = target.url!;
  if (timedOut) return `timed out after ${timeoutMs} ms ${STAGE_TEXT[stage]} at ${url}`;
  const net = networkError(e, url);
  if (net) return net;
  if (e instanceof StreamableHTTPError && e.code !== undefined && e.code > 0) return httpStatusError(url, e.code, e.message);
  if (e instanceof SseError) {
    if (e.code !== undefined && e.code > 0) return httpStatusError(url, e.code, e.message);
    return `could not open the SSE stream at ${url}: ${e.message.replace(/^SSE error: /, '')}`;
  }
  const posted = /^Error POSTing to endpoint \(HTTP (\d{3})\): ?([\s\S]*)$/.exec(messageOf(e));
  if (posted) return httpStatusError(url, Number(posted[1]), posted[2] ?? '');
  if (e instanceof McpError && e.code === McpErrorCode.ConnectionClosed) {
    return `${url} closed the connection ${STAGE_TEXT[stage]}`;
  }
  return `${stageFailed(stage)} at ${url}: ${messageOf(e)}`;
}

function stageFailed(stage: Stage): string {
  return stage === 'initialize' ? 'initialization failed' : `${stage} failed`;
}

function messageOf(e: unknown): string {
  if (e instanceof McpError) return `the server answered with error ${e.code}: ${e.message.replace(/^MCP error -?\d+: /, '')}`;
  if (e instanceof Error && e.name === 'ZodError') return 'the server sent a response that does not follow the MCP schema';
  if (!(e instanceof Error)) return String(e);
  // fetch() says only "fetch failed"; the reason is in `cause`.
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message ? `${e.message} (${cause.message})` : e.message;
}

/** fetch() failures carry the socket error as `cause` (sometimes an AggregateError of attempts). */
function networkError(e: unknown, url: string): string | null {
  let code: string | undefined;
  for (let cur: unknown = e, depth = 0; cur && depth < 5 && !code; depth++) {
    const c = cur as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof c.code === 'string') code = c.code;
    else if (Array.isArray(c.errors) && c.errors.length) cur = c.errors[0];
    else cur = c.cause;
  }
  // The SSE transport's EventSource flattens the cause into its message.
  code ??= /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\b/.exec(
    e instanceof Error ? e.message : String(e),
  )?.[1];
  const host = new URL(url).host;
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused to ${url}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `could not resolve host ${new URL(url).hostname}`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `connection reset by ${host}`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `connection to ${url} timed out`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `host unreachable: ${host}`;
    default:
      if (code && (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL'))) {
        return `TLS error connecting to ${url} (${code})`;
      }
      return null;
  }
}

function httpStatusError(url: string, status: number, message: string): string {
  const body = message
    .replace(/^(Streamable HTTP error|SSE error): /, '')
    .replace(/^(Error POSTing to endpoint|Failed to open SSE stream):? ?/, '')
    .replace(/^Non-200 status code \(\d+\)$/, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
  const hint =
    status === 401 || status === 403
      ? ' — check the authentication headers (and the secrets they reference)'
      : status === 404
        ? ' — is this the MCP endpoint?'
        : status === 405
          ? ' — the URL does not accept this method; is the transport right (streamable-http vs sse)?'
          : '';
  return `${url} answered HTTP ${status}${body && body !== String(status) ? ` (${body})` : ''}${hint}`;
}

/** Replace every opened secret value in a message (a server may echo its credentials). */
function redact(message: string, secrets: string[]): string {
  let out = message;
  // Longest first, so a secret that contains another is replaced whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length >= 4) out = out.split(s).join('••••');
  }
  return out;
}
