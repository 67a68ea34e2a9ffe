/**
 * The real-client matrix: MCP clients as their users run them, against the real stack (control
 * plane + gateway worker), each through the same checks. Clients:
 *
 * - the official SDK's `Client` over Streamable HTTP and over the legacy HTTP+SSE transport;
 * - the MCP Inspector's CLI, a child process per call (`inspector --cli URL --method …`); it needs
 *   Node 22, so it runs on the binary of @toolgate/node22 like the conformance CLI;
 * - mcp-remote, the stdio-to-HTTP bridge desktop clients use for remote servers, spawned as a
 *   stdio server and driven by the SDK's Client over StdioClientTransport, so every message
 *   crosses mcp-remote both ways (its own Streamable HTTP client towards the gateway);
 * - Vercel's AI SDK MCP client (@ai-sdk/mcp, defaults: Streamable HTTP with protocol discovery),
 *   through its tool set (`client.tools()` → `execute`), as generateText would call it. It is
 *   ESM-only and wants Node 22: it runs in fixtures/ai-sdk-client.mjs on that Node;
 * - LangChain's MultiServerMCPClient (@langchain/mcp-adapters), in process, through its
 *   LangChain tools (`getTools()` → `tool.invoke`).
 *
 * Servers: stdio server-everything and a FastMCP server (npm `fastmcp`) whose tools have awkward
 * names (fixtures/awkward-names.json). Checks per client: list and call on the aggregated
 * endpoint `/mcp/{org}` (names sanitised/hashed) and on `/mcp/{org}/{server}` (names unchanged),
 * read a resource link a tool returned (`tg://` on the aggregated endpoint), a wrong key, and a
 * rate-limited call (the gateway answers HTTP 200 with JSON-RPC -32004): each asserts what that
 * client actually shows. Every client has a resources API, so no check is skipped.
 *
 * Every child has a deadline and is killed by then; none outlives the file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { MultiServerMCPClient } from '@langchain/mcp-adapters';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { freePort } from './fixtures/gw-helpers';
import { connect, EVERYTHING, type Stack, setupOrg, startStack } from './harness';

/** The Inspector's launcher (its `bin`); `--cli` hands the rest of the arguments to its CLI. */
const INSPECTOR = path.join(
  path.dirname(require.resolve('@modelcontextprotocol/inspector/package.json')),
  'clients/launcher/build/index.js',
);
const MCP_REMOTE = path.join(path.dirname(require.resolve('mcp-remote/package.json')), 'dist/proxy.js');
const AI_SDK_CLIENT = path.join(__dirname, 'fixtures', 'ai-sdk-client.mjs');
const FASTMCP_SERVER = path.join(__dirname, 'fixtures', 'fastmcp-names-server.mjs');
/** The FastMCP fixture's tool names: dotted, spaced, slashed, > 64 characters, non-ASCII. */
const AWKWARD: string[] = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'awkward-names.json'), 'utf8'));
/** What OpenAI-style clients accept as a tool name; the aggregated endpoint must only list such names. */
const VALID = /^[a-zA-Z0-9_-]{1,64}$/;
/** One CLI run or one bridge start takes about a second here; a hang must fail the test, not Jest. */
const CHILD_TIMEOUT_MS = 20_000;
/** "Fails fast": a wrong key must be refused well before any client's own request timeout. */
const FAST_MS = 10_000;
/** The gateway's JSON-RPC code for a rate-limited call (-32001 would be the SDK's own timeout). */
const RATE_LIMITED = -32004;
/** The error's `data` (Retry-After travels as an HTTP header too, but no client here shows headers). */
const RATE_DATA = { retryAfterSeconds: expect.any(Number), bucket: expect.stringMatching(/^key:/) };
const RATE_LIMIT_MESSAGE = /^Rate limit exceeded; retry in \d+s$/;

jest.setTimeout(60_000);

/** A Node >= 22 binary: this one if it is new enough, else the one @toolgate/node22 installed. */
function node22(): string | null {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  return (require('@toolgate/node22') as { nodeBinary: string | null }).nodeBinary;
}
const NODE22 = node22();

const children = new Set<ChildProcess>();
/** HOME for the CLIs: where they keep OAuth state and settings, never the user's own. */
const CLI_HOME = mkdtempSync(path.join(tmpdir(), 'tg-real-clients-home-'));
/** The children's environment: private HOME, no colours, and no browser to open for an OAuth login. */
const CHILD_ENV = { ...(process.env as Record<string, string>), HOME: CLI_HOME, NO_COLOR: '1', FORCE_COLOR: '0', BROWSER: 'false' };

// ---------------------------------------------------------------------------------------------
// One face for every client.

/** A content block as the matrix compares it: a text, or the URI of a resource link. */
type Block = { text: string } | { link: string };

interface Agent {
  /** Tool names as the client offers them to its user (or model). */
  tools(): Promise<string[]>;
  call(name: string, args?: Record<string, unknown>): Promise<Block[]>;
  /** The URIs of the contents a resources/read returned. */
  read(uri: string): Promise<string[]>;
  close(): Promise<void>;
}

/** An error as the client shows it to its user. */
interface Shown {
  kind: string;
  code?: number | string;
  status?: number;
  message: string;
  /** The JSON-RPC error's `data`, where the client keeps it. */
  data?: unknown;
}

interface ClientCase {
  name: string;
  /** `url` is always the Streamable HTTP URL (`/mcp/…`); a client of another transport maps it. */
  connect(url: string, key: string): Promise<Agent>;
  /** What connecting (and listing tools) with a wrong key shows; the client must give up by itself. */
  wrongKey(url: string): Promise<Shown>;
  /** Maps an error `Agent.call` threw to what the client shows. */
  show(e: unknown): Shown;
  /** What a wrong key must show. */
  authShown: Partial<Record<keyof Shown, unknown>>;
  /** What a call refused with HTTP 200 + JSON-RPC -32004 must show. */
  rateShown: Partial<Record<keyof Shown, unknown>>;
}

function blocksOf(content: unknown): Block[] {
  return (content as Array<{ type: string; text?: string; uri?: string }>).map((b) =>
    b.type === 'resource_link' ? { link: b.uri ?? '' } : { text: b.type === 'text' ? (b.text ?? '') : `[${b.type}]` },
  );
}

function shownError(e: unknown): Shown {
  const err = e as { constructor?: { name?: string }; name?: string; code?: number | string; message?: string; data?: unknown };
  return { kind: err?.constructor?.name ?? err?.name ?? typeof e, code: err?.code, message: String(err?.message ?? e), data: err?.data };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)?.slice(0, 300)}`);
    },
    (e: unknown) => e,
  );
}

// --- the official SDK client ------------------------------------------------------------------

function sdkAgent(client: Client): Agent {
  return {
    tools: async () => (await client.listTools()).tools.map((t) => t.name),
    call: async (name, args = {}) => blocksOf((await client.callTool({ name, arguments: args })).content),
    read: async (uri) => (await client.readResource({ uri })).contents.map((c) => c.uri),
    close: () => client.close(),
  };
}

const sseUrl = (url: string) => url.replace('/mcp/', '/sse/');

// --- the Inspector CLI --------------------------------------------------------------------------

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** At most three Inspector processes at a time (each is a Node start on a shared 2-core box). */
let inspectorSlots = 3;
const inspectorQueue: Array<() => void> = [];

/** Runs the Inspector CLI to completion, or kills it at CHILD_TIMEOUT_MS (reported as `signal`). */
async function inspector(args: string[]): Promise<Run> {
  if (inspectorSlots === 0) await new Promise<void>((r) => inspectorQueue.push(r));
  else inspectorSlots--;
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(NODE22 ?? 'node22-missing', [INSPECTOR, '--cli', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: CHILD_ENV });
      children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ code, signal, stdout, stderr });
      });
    });
  } finally {
    const waiting = inspectorQueue.shift();
    if (waiting) waiting();
    else inspectorSlots++;
  }
}

/** A failed Inspector run: its exit and the `{"error":{code,message}}` it printed. */
class InspectorFailure extends Error {
  constructor(
    readonly run: Run,
    readonly printed: { code?: string; message?: string } | null,
  ) {
    super(`inspector exited ${run.code}/${run.signal}: ${run.stdout.slice(-500)} ${run.stderr.slice(-1500)}`);
  }
}

/** The Inspector's JSON output of a successful run, or an InspectorFailure. */
async function inspectorJson<T>(url: string, key: string, args: string[]): Promise<T> {
  const run = await inspector([url, '--transport', 'http', ...args, '--header', `Authorization: Bearer ${key}`]);
  if (run.code === 0 && run.signal === null) return JSON.parse(run.stdout) as T;
  const line = `${run.stdout}\n${run.stderr}`.split('\n').find((l) => l.startsWith('{"error"'));
  throw new InspectorFailure(run, line ? (JSON.parse(line) as { error: { code?: string; message?: string } }).error : null);
}

function inspectorAgent(url: string, key: string): Agent {
  return {
    tools: async () =>
      (await inspectorJson<{ tools: Array<{ name: string }> }>(url, key, ['--method', 'tools/list'])).tools.map((t) => t.name),
    call: async (name, args = {}) => {
      const toolArgs = Object.entries(args).flatMap(([k, v]) => ['--tool-arg', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`]);
      const result = await inspectorJson<{ content: unknown }>(url, key, ['--method', 'tools/call', '--tool-name', name, ...toolArgs]);
      return blocksOf(result.content);
    },
    read: async (uri) =>
      (await inspectorJson<{ contents: Array<{ uri: string }> }>(url, key, ['--method', 'resources/read', '--uri', uri])).contents.map(
        (c) => c.uri,
      ),
    close: async () => undefined,
  };
}

// --- mcp-remote ---------------------------------------------------------------------------------

/** The SDK client talking to mcp-remote over stdio; mcp-remote talks to `url` with the key. */
async function viaMcpRemote(url: string, key: string, timeout = CHILD_TIMEOUT_MS): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCP_REMOTE, url, '--header', `Authorization:Bearer ${key}`, '--transport', 'http-only', '--auth-timeout', '5'],
    // Its own config dir (OAuth client registrations and tokens live there), never the user's ~/.mcp-auth.
    env: { ...CHILD_ENV, MCP_REMOTE_CONFIG_DIR: mkdtempSync(path.join(CLI_HOME, 'mcp-remote-')) },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d));
  const client = new Client({ name: 'toolgate-e2e-mcp-remote', version: '1.0.0' });
  try {
    await client.connect(transport, { timeout });
  } catch (e) {
    await client.close().catch(() => undefined);
    throw Object.assign(e as Error, { bridgeStderr: stderr });
  }
  return { client, stderr: () => stderr };
}

// --- @ai-sdk/mcp, in its own Node 22 process ------------------------------------------------------

interface DriverError {
  name?: string;
  message: string;
  code?: number;
  statusCode?: number;
  data?: unknown;
}

/** The AI SDK driver process (fixtures/ai-sdk-client.mjs): one request per line, one reply per line. */
class AiSdkDriver {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private next = 0;
  private stderr = '';

  constructor() {
    this.child = spawn(NODE22 ?? 'node22-missing', [AI_SDK_CLIENT], { stdio: ['pipe', 'pipe', 'pipe'], env: CHILD_ENV });
    children.add(this.child);
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const reply = JSON.parse(line) as { id: number; value?: unknown; error?: DriverError };
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error) waiter?.reject(Object.assign(new Error(reply.error.message), { driver: reply.error }));
      else waiter?.resolve(reply.value);
    });
    this.child.on('close', () => {
      children.delete(this.child);
      for (const w of this.pending.values()) w.reject(new Error(`the AI SDK driver exited: ${this.stderr.slice(-2000)}`));
      this.pending.clear();
    });
  }

  request<T>(op: string, params: Record<string, unknown>): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the AI SDK driver did not answer ${op} within ${CHILD_TIMEOUT_MS} ms: ${this.stderr.slice(-2000)}`));
      }, CHILD_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin?.write(`${JSON.stringify({ id, op, ...params })}\n`);
    });
  }

  stop(): void {
    this.child.stdin?.end();
  }
}

let aiSdk: AiSdkDriver | null = null;
const aiSdkDriver = () => (aiSdk ??= new AiSdkDriver());

async function aiSdkAgent(url: string, key: string): Promise<Agent> {
  const driver = aiSdkDriver();
  const handle = await driver.request<string>('connect', { url, key });
  return {
    tools: () => driver.request<string[]>('tools', { handle }),
    call: async (name, args = {}) => blocksOf((await driver.request<{ content: unknown }>('call', { handle, name, args })).content),
    read: async (uri) => (await driver.request<{ contents: Array<{ uri: string }> }>('read', { handle, uri })).contents.map((c) => c.uri),
    close: async () => {
      await driver.request('close', { handle });
    },
  };
}

// --- LangChain ----------------------------------------------------------------------------------

/** A LangChain tool's output: a string for one text block, else its content blocks. */
function langchainBlocks(out: unknown): Block[] {
  if (typeof out === 'string') return [{ text: out }];
  return (out as Array<{ type: string; text?: string; url?: string }>).map((b) =>
    b.type === 'text' ? { text: b.text ?? '' } : b.url ? { link: b.url } : { text: `[${b.type}]` },
  );
}

function langchainClient(url: string, key: string): MultiServerMCPClient {
  // Defaults otherwise: tool names as the server lists them, errors thrown (ToolException).
  return new MultiServerMCPClient({
    mcpServers: { gw: { transport: 'http', url, headers: { Authorization: `Bearer ${key}` } } },
    useStandardContentBlocks: false,
  });
}

async function langchainAgent(url: string, key: string): Promise<Agent> {
  const client = langchainClient(url, key);
  const tools = await client.getTools();
  const byName = new Map(tools.map((t) => [t.name, t]));
  return {
    tools: async () => tools.map((t) => t.name),
    call: async (name, args = {}) => {
      const tool = byName.get(name);
      if (!tool) throw new Error(`no tool ${name} among LangChain's tools`);
      return langchainBlocks(await tool.invoke(args));
    },
    read: async (uri) => (await client.readResource('gw', uri)).map((c) => c.uri),
    close: () => client.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// The matrix rows.

const CASES: ClientCase[] = [
  {
    name: 'SDK client, Streamable HTTP',
    connect: async (url, key) => sdkAgent(await connect(url, key)),
    wrongKey: async (url) => shownError(await failure(connect(url, 'tg_wrong_key'))),
    show: shownError,
    authShown: { kind: 'StreamableHTTPError', code: 401, message: expect.stringContaining('The agent key is invalid or revoked') },
    rateShown: {
      kind: 'McpError',
      code: RATE_LIMITED,
      message: expect.stringMatching(/^MCP error -32004: Rate limit exceeded; retry in \d+s$/),
      data: RATE_DATA,
    },
  },
  {
    name: 'SDK client, legacy HTTP+SSE',
    connect: async (url, key) => sdkAgent(await connect(sseUrl(url), key, { transport: 'sse' })),
    wrongKey: async (url) => shownError(await failure(connect(sseUrl(url), 'tg_wrong_key', { transport: 'sse' }))),
    show: shownError,
    // The SSE transport only reports the status of the refused GET, not the body.
    authShown: { kind: 'SseError', code: 401, message: 'SSE error: Non-200 status code (401)' },
    rateShown: {
      kind: 'McpError',
      code: RATE_LIMITED,
      message: expect.stringMatching(/^MCP error -32004: Rate limit exceeded/),
      data: RATE_DATA,
    },
  },
  {
    name: 'MCP Inspector CLI 2.12 (Node 22)',
    connect: async (url, key) => inspectorAgent(url, key),
    wrongKey: async (url) => {
      const e = await failure(inspectorAgent(url, 'tg_wrong_key').tools());
      if (!(e instanceof InspectorFailure)) throw e;
      return { kind: 'exit', status: e.run.code ?? -1, code: e.printed?.code, message: e.printed?.message ?? e.message };
    },
    show: (e) => {
      if (!(e instanceof InspectorFailure)) throw e;
      return { kind: 'exit', status: e.run.code ?? -1, code: e.printed?.code, message: e.printed?.message ?? e.message };
    },
    // Inspector 2.x takes any 401 as "log in with OAuth", and with no TTY it stops at once with
    // its own error code instead of printing the status.
    authShown: { kind: 'exit', status: 3, code: 'auth_required' },
    // It prints the JSON-RPC error's message under its own generic code: the -32004 itself is not
    // shown (nor Retry-After), but the message is the gateway's and the exit is an ordinary failure.
    rateShown: { kind: 'exit', status: 1, code: 'error', message: expect.stringMatching(RATE_LIMIT_MESSAGE) },
  },
  {
    name: 'mcp-remote 0.15.1 (stdio bridge) + SDK client',
    connect: async (url, key) => sdkAgent((await viaMcpRemote(url, key)).client),
    wrongKey: async (url) => {
      // It never gives up by itself here (see authShown): the host's own request timeout ends it.
      const e = (await failure(viaMcpRemote(url, 'tg_wrong_key', 5_000))) as Error & { bridgeStderr?: string };
      const fatal = /Fatal error: (.*)/.exec(e.bridgeStderr ?? '')?.[1] ?? '';
      const waiting = e.bridgeStderr?.includes('Please authorize this client by visiting:') ? 'waiting for sign-in' : 'no sign-in';
      return { ...shownError(e), message: `${e.message} | ${fatal} | ${waiting}` };
    },
    show: shownError,
    // mcp-remote answers every 401 with the OAuth sign-in the gateway's metadata points to, and
    // ignores error="invalid_token": it registers with the control plane, prints the authorization
    // URL, opens the browser and waits for the callback without end (--auth-timeout only bounds
    // sibling instances' long polls). The host sees its initialize time out, never the reason.
    authShown: { kind: 'McpError', code: -32001, message: 'MCP error -32001: Request timed out |  | waiting for sign-in' },
    rateShown: {
      kind: 'McpError',
      code: RATE_LIMITED,
      message: expect.stringMatching(/^MCP error -32004: Rate limit exceeded/),
      data: RATE_DATA,
    },
  },
  {
    name: '@ai-sdk/mcp 2.0.99 (Node 22)',
    connect: aiSdkAgent,
    wrongKey: async (url) => {
      const e = (await failure(aiSdkAgent(url, 'tg_wrong_key'))) as Error & { driver?: DriverError };
      if (!e.driver) throw e;
      return { kind: e.driver.name ?? '', code: e.driver.code, status: e.driver.statusCode, message: e.driver.message };
    },
    show: (e) => {
      const driver = (e as { driver?: DriverError }).driver;
      if (!driver) throw e;
      return { kind: driver.name ?? '', code: driver.code, status: driver.statusCode, message: driver.message, data: driver.data };
    },
    authShown: { kind: 'MCPClientError', status: 401, message: expect.stringContaining('The agent key is invalid or revoked') },
    rateShown: { kind: 'MCPClientError', code: RATE_LIMITED, message: expect.stringMatching(RATE_LIMIT_MESSAGE), data: RATE_DATA },
  },
  {
    name: '@langchain/mcp-adapters 1.1.4 (MultiServerMCPClient)',
    connect: langchainAgent,
    wrongKey: async (url) => {
      const client = langchainClient(url, 'tg_wrong_key');
      try {
        return shownError(await failure(client.getTools()));
      } finally {
        await client.close();
      }
    },
    show: shownError,
    authShown: {
      kind: 'MCPClientError',
      message: expect.stringMatching(/^Authentication failed for HTTP server "gw" .*The agent key is invalid or revoked/s),
    },
    // A LangChain tool wraps the SDK's McpError into its message; no code property of its own.
    rateShown: {
      kind: 'ToolException',
      message: expect.stringMatching(
        /^Error calling tool everything__echo: McpError: MCP error -32004: Rate limit exceeded; retry in \d+s$/,
      ),
    },
  },
];

/** toolgate_gateway_auth_failures_total{reason} from the gateway's /metrics. */
async function authFailures(stack: Stack, reason: string): Promise<number> {
  const text = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
  return Number(new RegExp(`^toolgate_gateway_auth_failures_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

let stack: Stack;
let orgUrl: string;
let key: string;
/** A second org whose role allows 2 calls at once per key, then one per 10 s; a key per client. */
let limitedUrl: string;
const limitedKeys = new Map<string, string>();

beforeAll(async () => {
  // The gateway's public URL names its real port: WWW-Authenticate points there, and mcp-remote follows it.
  const port = await freePort();
  // The API's too: mcp-remote checks that the issuer it states is where it found it (RFC 8414 §3.3).
  stack = await startStack({
    gatewayEnv: { PORT: String(port), PUBLIC_GATEWAY_URL: `http://127.0.0.1:${port}` },
    apiEnv: { PUBLIC_GATEWAY_URL: `http://127.0.0.1:${port}` },
    apiOwnIssuer: true,
  });
  const o = await setupOrg(stack, {
    servers: [
      { slug: 'everything', name: 'Everything', transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] },
      { slug: 'fm', name: 'FastMCP names', transport: 'stdio', command: process.execPath, args: [FASTMCP_SERVER] },
    ],
  });
  orgUrl = `${stack.gatewayUrl}/mcp/${o.org.slug}`;
  key = o.key;
  const limited = await setupOrg(stack, {
    rules: { tools: [{ effect: 'allow', match: '*' }], rateLimits: [{ scope: 'key', perMinute: 6, burst: 2 }] },
  });
  limitedUrl = `${stack.gatewayUrl}/mcp/${limited.org.slug}`;
  for (const c of CASES) {
    const k = await limited.api.call('POST', `/v1/orgs/${limited.org.slug}/keys`, { name: c.name.slice(0, 60), roleIds: [limited.roleId] });
    limitedKeys.set(c.name, k.key);
  }
}, 60_000);

afterAll(async () => {
  aiSdk?.stop();
  await new Promise((r) => setTimeout(r, 200));
  for (const child of children) child.kill('SIGKILL');
  await stack?.close();
  rmSync(CLI_HOME, { recursive: true, force: true });
});

if (!NODE22) {
  it('has a Node 22 to run the Inspector CLI and the AI SDK client with', () => {
    throw new Error('No Node >= 22: run Jest on Node 22, or install on Linux x64 (@toolgate/node22)');
  });
}

describe.each(CASES)('$name', (c) => {
  /** Connected once per client: the aggregated endpoint and one per server. */
  let all: Agent;
  let fm: Agent;
  let everything: Agent;

  beforeAll(async () => {
    [all, fm, everything] = await Promise.all([
      c.connect(orgUrl, key),
      c.connect(`${orgUrl}/fm`, key),
      c.connect(`${orgUrl}/everything`, key),
    ]);
  }, 60_000);

  afterAll(async () => {
    for (const a of [all, fm, everything]) await a?.close().catch(() => undefined);
  });

  it('lists /mcp/{org}: every name valid and unique, the awkward ones sanitised or hashed', async () => {
    const names = await all.tools();
    expect(names).toContain('everything__echo');
    for (const name of names) expect(name).toMatch(VALID);
    expect(new Set(names).size).toBe(names.length);
    const fmNames = names.filter((n) => n.startsWith('fm__'));
    expect(fmNames).toHaveLength(AWKWARD.length);
    // None is passed through raw: each was rewritten (sanitised, and hashed to stay unique).
    for (const raw of AWKWARD) expect(fmNames).not.toContain(`fm__${raw}`);
  });

  it('calls a normal tool on /mcp/{org} and on /mcp/{org}/{server}', async () => {
    expect(await all.call('everything__echo', { message: 'hi' })).toEqual([{ text: 'Echo: hi' }]);
    expect(await everything.call('echo', { message: 'direct' })).toEqual([{ text: 'Echo: direct' }]);
  });

  it('calls every awkward-named tool by its listed name on /mcp/{org} and reaches the tool it stands for', async () => {
    const fmNames = (await all.tools()).filter((n) => n.startsWith('fm__'));
    const reached = await Promise.all(fmNames.map(async (name) => all.call(name)));
    expect(reached.map((blocks) => blocks.map((b) => ('text' in b ? b.text : b.link)).join()).sort()).toEqual(
      AWKWARD.map((n) => `tool:${n}`).sort(),
    );
  });

  it('lists and calls the awkward names unchanged on /mcp/{org}/fm', async () => {
    expect((await fm.tools()).sort()).toEqual([...AWKWARD].sort());
    for (const name of AWKWARD) expect(await fm.call(name)).toEqual([{ text: `tool:${name}` }]);
  });

  it('reads a resource link a tool returned: tg:// on /mcp/{org}, the upstream URI on /mcp/{org}/everything', async () => {
    const links = (await all.call('everything__get-resource-links', { count: 2 })).flatMap((b) => ('link' in b ? [b.link] : []));
    expect(links).toEqual(['tg://everything/demo://resource/dynamic/blob/1', 'tg://everything/demo://resource/dynamic/text/2']);
    expect(await all.read(links[1] ?? '')).toEqual([links[1]]);

    const direct = (await everything.call('get-resource-links', { count: 1 })).flatMap((b) => ('link' in b ? [b.link] : []));
    expect(direct).toEqual(['demo://resource/dynamic/blob/1']);
    expect(await everything.read(direct[0] ?? '')).toEqual(direct);
  });

  it('a wrong key fails fast with the client’s auth error (the gateway answered 401)', async () => {
    const before = await authFailures(stack, 'invalid');
    const started = Date.now();
    const shown = await c.wrongKey(orgUrl);
    expect(Date.now() - started).toBeLessThan(FAST_MS);
    expect(shown).toMatchObject(c.authShown);
    expect(await authFailures(stack, 'invalid')).toBeGreaterThan(before);
  });

  it('a rate-limited call surfaces as the gateway’s JSON-RPC -32004, not a transport error', async () => {
    const agent = await c.connect(limitedUrl, limitedKeys.get(c.name) ?? '');
    try {
      // burst 2: the first two pass, the third is refused.
      expect(await agent.call('everything__echo', { message: 'n1' })).toEqual([{ text: 'Echo: n1' }]);
      expect(await agent.call('everything__echo', { message: 'n2' })).toEqual([{ text: 'Echo: n2' }]);
      const refused = await failure(agent.call('everything__echo', { message: 'n3' }));
      expect(c.show(refused)).toMatchObject(c.rateShown);
      // The session survived the refusal: the client can still talk to the gateway.
      expect((await agent.tools()).length).toBeGreaterThan(0);
    } finally {
      await agent.close();
    }
  });
});
