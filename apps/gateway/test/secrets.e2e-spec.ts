/**
 * Secrets never leave through errors (issue 13, part 5). Upstreams whose failures quote the secret
 * injected into them — as is, URL- and form-encoded, base64 and base64url, inside Basic
 * credentials at every byte alignment, hex — over stdio (env) and Streamable HTTP (header), on the
 * aggregated and the single-server endpoint: the agent and the stored audit chain only ever see
 * `[REDACTED:secret]`. The check is an oracle that decodes every encoding (carriesSecret), not a
 * list of the strings the fixtures happen to print.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { carriesSecret } from '../../../packages/policy/src/test-fixtures';
import { loadEnv } from '../../api/src/config/env';
import { startWorker } from '../../api/src/worker';
import { loadGatewayConfig } from '../src/config';
import { createGateway } from '../src/gateway';
import { createOrg, type Org, sleep } from './fixtures/gw-helpers';
import { type StreamableFixture, startStreamableFixture } from './fixtures/http-mcp-server';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(30_000);

const LEAKY_ERRORS_SERVER = join(__dirname, 'fixtures/leaky-errors-server.mjs');
/** Every URL encoder changes it (space / + =), and its base64 differs from run to run. */
const secret = `tg live/${randomBytes(12).toString('base64')}+k=v`;
const MARKER = '[REDACTED:secret]';

let stack: Stack;
let worker: Awaited<ReturnType<typeof startWorker>>;
let upstream: StreamableFixture;
let o: Org;

beforeAll(async () => {
  [stack, upstream] = await Promise.all([startStack(), startStreamableFixture()]);
  // The real audit consumer of this stack's queue: the chain is read back through the API.
  worker = await startWorker(loadEnv({ ...process.env, QUEUE_PREFIX: stack.queuePrefix, AUDIT_BATCH_WAIT_MS: '10' }), { logger: false });
  o = await createOrg(stack, {
    secrets: { TOKEN: secret },
    servers: [
      {
        slug: 'leaky',
        name: 'Leaky errors',
        transport: 'stdio',
        command: process.execPath,
        args: [LEAKY_ERRORS_SERVER],
        env: { TOKEN: { secret: 'TOKEN' } },
      },
      {
        slug: 'fixture',
        name: 'HTTP fixture',
        transport: 'streamable-http',
        url: upstream.url,
        headers: { 'x-api-key': { secret: 'TOKEN' } },
      },
    ],
  });
});
afterAll(async () => {
  await worker.close();
  await stack.close();
  await upstream.close();
});

const url = (server?: string) => `${stack.gatewayUrl}/mcp/${o.org.slug}${server ? `/${server}` : ''}`;

/** The JSON-RPC error a call rejects with, as the agent received it (code, message, data). */
async function agentError(p: Promise<unknown>): Promise<{ code: number; message: string; data: unknown }> {
  const e = await p.then(
    (r) => {
      throw new Error(`expected an error, got ${JSON.stringify(r).slice(0, 300)}`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(McpError);
  const { code, message, data } = e as McpError;
  return { code, message, data };
}

/** Nothing in `value` decodes to the secret, and the redaction marker shows where it was. */
function redacted(value: unknown): void {
  const text = JSON.stringify(value);
  expect(carriesSecret(text, secret)).toBe(false);
  expect(text).toContain(MARKER);
}

describe('what the agent gets', () => {
  it('stdio upstream: tool errors (message and data), error results, logs, prompt and completion errors', async () => {
    const client = await connect(url(), o.key);
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logs.push(n.params);
    });
    try {
      const failed = await agentError(client.callTool({ name: 'leaky__fail', arguments: { note: encodeURIComponent(secret) } }));
      expect(failed.code).toBe(-32001);
      expect(failed.message).toContain('tools/call failed: upstream said 401 for token=[REDACTED:secret]');
      redacted(failed);
      // Each form in the data is gone, the Basic credentials of every alignment included.
      const forms = (failed.data as { forms: Record<string, unknown> }).forms;
      for (const form of Object.values(forms)) redacted(form);
      expect(logs).toHaveLength(1);
      redacted(logs);

      const result = await client.callTool({ name: 'leaky__fail-result', arguments: {} });
      expect(result.isError).toBe(true);
      redacted(result);

      redacted(await agentError(client.getPrompt({ name: 'leaky__fail', arguments: { x: '1' } })));
      redacted(
        await agentError(client.complete({ ref: { type: 'ref/prompt', name: 'leaky__fail' }, argument: { name: 'x', value: 'a' } })),
      );
    } finally {
      await client.close();
    }
  });

  it('stdio upstream on its single-server endpoint: a failing catalogue and a failing call', async () => {
    const client = await connect(url('leaky'), o.key);
    try {
      const listed = await agentError(client.listResources());
      expect(listed.message).toContain('resources/list failed');
      redacted(listed);
      redacted(await agentError(client.callTool({ name: 'fail', arguments: {} })));
    } finally {
      await client.close();
    }
  });

  it('stdio upstream that dies with its token on stderr: neither the crash error nor the operator log carries it', async () => {
    const logged: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logged.push(String(chunk));
      return true;
    });
    const client = await connect(url(), o.key);
    try {
      const crashed = await agentError(client.callTool({ name: 'leaky__crash', arguments: {} }));
      expect(crashed.message).toMatch(/MCP server "leaky" exited with code \d+$/);
      expect(carriesSecret(JSON.stringify(crashed), secret)).toBe(false);
      // stderr is the operators' view: it reaches the log, masked.
      const down = logged.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'stdio backend down');
      expect(down).toMatchObject({ event: 'crash', server: 'leaky', stderrTail: expect.stringContaining('fatal: ') });
      expect(String(down!.stderrTail)).toContain('[REDACTED:secret]');
      for (const line of logged) expect(carriesSecret(line, secret)).toBe(false);
    } finally {
      spy.mockRestore();
      await client.close();
    }
  });

  it('HTTP upstream: an error echoing the injected header, as is, URL-encoded and in a Basic credential', async () => {
    const client = await connect(url(), o.key);
    try {
      const failed = await agentError(client.getPrompt({ name: 'fixture__auth-error' }));
      expect(failed.code).toBe(-32001);
      expect(failed.message).toContain(`upstream refused x-api-key ${MARKER}`);
      redacted(failed);
      // The header really was injected: the fixture saw the secret on its side.
      expect(upstream.stats.requests.some((r) => r.headers['x-api-key'] === secret)).toBe(true);

      const result = await client.callTool({ name: 'fixture__auth-fail', arguments: {} });
      expect(result.isError).toBe(true);
      redacted(result);
    } finally {
      await client.close();
    }
  });
});

describe('what the audit chain stores', () => {
  /** Calls made by the tests above, each with an error or an error result (runs before the next describe). */
  const FAILED_CALLS = 9;

  it('holds the failed calls with redacted errors and arguments, and no form of the secret anywhere', async () => {
    const headers = { Authorization: `Bearer ${o.api.token}` };
    type Item = { method: string; target: string | null; outcome: string; error: string | null };
    let calls: Item[] = [];
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(100)) {
      const page = await o.api.call<{ items: Item[] }>('GET', `/v1/orgs/${o.org.slug}/audit?limit=200`);
      calls = page.items.filter((i) => ['tools/call', 'prompts/get', 'completion/complete', 'resources/list'].includes(i.method));
      if (calls.length >= FAILED_CALLS) break;
    }
    expect(calls).toHaveLength(FAILED_CALLS);
    const errors = calls.filter((c) => c.error !== null);
    // The JSON-RPC errors (7; the two error results are successful calls) are stored, redacted.
    expect(errors).toHaveLength(7);
    for (const c of errors) expect(carriesSecret(c.error!, secret)).toBe(false);
    // The crash error never quotes the child's stderr (an operators' view); the others quote the upstream.
    for (const c of errors.filter((e) => e.target !== 'crash')) expect(c.error).toContain(MARKER);

    // The whole stored chain, payloads included, as an auditor exports it.
    const res = await fetch(`${stack.apiUrl}/v1/orgs/${o.org.slug}/audit/export`, { headers });
    expect(res.status).toBe(200);
    const ndjson = await res.text();
    expect(carriesSecret(ndjson, secret)).toBe(false);
    const events = ndjson
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; payload?: Record<string, unknown> })
      .filter((l) => l.type === 'event');
    const failedCall = events.find(
      (e) => e.payload?.method === 'tools/call' && e.payload.target === 'fail' && e.payload.serverSlug === 'leaky',
    );
    // The agent's arguments carried the secret URL-encoded: stored as the marker.
    expect(events.some((e) => JSON.stringify(e.payload?.arguments ?? null) === JSON.stringify({ note: MARKER }))).toBe(true);
    expect(String(failedCall?.payload?.error)).toContain(MARKER);
  });
});

describe('a worker that cannot open the secrets (TOOLGATE_SECRET_KEY differs from the API’s)', () => {
  it('answers a JSON-RPC error with nothing of the upstream in it, and still audits the call', async () => {
    // The error path must not fail on redaction itself: without the server's secrets, the role's
    // patterns still apply and the call is recorded.
    const gw = await createGateway(
      loadGatewayConfig({
        ...process.env,
        PORT: '0',
        QUEUE_PREFIX: stack.queuePrefix,
        SPOOL_DIR: join(tmpdir(), `${stack.queuePrefix}-wrong-key`),
        TOOLGATE_SECRET_KEY: randomBytes(32).toString('hex'),
      }),
    );
    const { url: base } = await gw.listen();
    const client = await connect(`${base}/mcp/${o.org.slug}`, o.key);
    const sessionId = (client.transport as unknown as { sessionId: string }).sessionId;
    try {
      const failed = await agentError(client.callTool({ name: 'leaky__fail', arguments: {} }));
      const why = 'Server leaky is misconfigured: secret TOKEN could not be decrypted (was TOOLGATE_SECRET_KEY changed?)';
      expect(failed).toEqual({ code: -32005, message: `MCP error -32005: ${why}`, data: undefined });
    } finally {
      await client.close();
      await gw.close();
    }
    type Item = { method: string; sessionId: string | null; outcome: string; error: string | null };
    let item: Item | undefined;
    for (const deadline = Date.now() + 10_000; !item && Date.now() < deadline; await sleep(100)) {
      const page = await o.api.call<{ items: Item[] }>('GET', `/v1/orgs/${o.org.slug}/audit?method=tools/call&limit=200`);
      item = page.items.find((i) => i.sessionId === sessionId);
    }
    expect(item).toMatchObject({
      outcome: 'error',
      error: 'Server leaky is misconfigured: secret TOKEN could not be decrypted (was TOOLGATE_SECRET_KEY changed?)',
    });
  });
});
