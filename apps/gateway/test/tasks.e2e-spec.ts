/**
 * MCP tasks (2025-11-25) through the gateway, with a task-capable SDK server over stdio and over
 * Streamable HTTP: the creating agent (org, key, session) polls, reads, lists and cancels its
 * task under the gateway's own id; nobody else can reach it, learn that it exists or hear its
 * status; a task created on one worker is served by the other.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/experimental/tasks/index.js';
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  McpError,
  TaskStatusNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { auditEvents, createKey, createOrg, type Org, openSession, post, sleep, textOf, workerUrl } from './fixtures/gw-helpers';
import { connect, type Stack, startStack } from './harness';

jest.setTimeout(60_000);

const TASK_SERVER = join(__dirname, 'fixtures', 'task-server.mjs');
const MEMO = join(__dirname, 'fixtures', 'memo-server.mjs');
const NOT_FOUND = 'Failed to retrieve task: Task not found';

let stack: Stack;
let httpUpstream: ChildProcess;
let httpUrl: string;

beforeAll(async () => {
  stack = await startStack({ gateways: 2 });
  httpUpstream = spawn(process.execPath, [TASK_SERVER, 'http'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) =>
    httpUpstream.stdout!.on('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve(m[1]!);
    }),
  );
  httpUrl = `http://127.0.0.1:${port}/mcp`;
});
afterAll(async () => {
  httpUpstream.kill();
  await stack.close();
});

const open: Client[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
});

type Upstream = 'stdio' | 'http';
const taskServer = (upstream: Upstream, isolation?: string, extra: Record<string, unknown> = {}) => ({
  slug: 'jobs',
  name: 'Jobs',
  ...(upstream === 'stdio'
    ? { transport: 'stdio', command: process.execPath, args: [TASK_SERVER] }
    : { transport: 'streamable-http', url: httpUrl }),
  ...(isolation ? { isolation } : {}),
  ...extra,
});

/** An org with the task server, a memo server (no tasks capability), key A (allow all) and key B of a role without jobs. */
async function org(upstream: Upstream, isolation?: string, extra: Record<string, unknown> = {}) {
  const o = await createOrg(stack, {
    servers: [
      taskServer(upstream, isolation, extra),
      { slug: 'memo', name: 'Memo', transport: 'stdio', command: process.execPath, args: [MEMO] },
    ],
  });
  const other = await o.api.call('POST', `/v1/orgs/${o.org.slug}/roles`, {
    name: 'no-jobs',
    rules: { tools: [{ effect: 'allow', match: 'memo__*' }] },
  });
  const b = await createKey(o, [other.id]);
  const sameRole = await createKey(o, [o.roleId]);
  await sleep(300); // the new keys reach the workers' snapshots
  return { o, keyB: b.key, keySameRole: sameRole.key };
}

async function agent(
  o: Org,
  key: string,
  opts: { worker?: number; server?: string; onStatus?: (p: Record<string, unknown>) => void; sampling?: (q: string) => string } = {},
) {
  const url = `${workerUrl(stack, opts.worker ?? 0)}/mcp/${o.org.slug}${opts.server ? `/${opts.server}` : ''}`;
  const client = await connect(url, key, { capabilities: opts.sampling ? { sampling: {} } : {} });
  if (opts.onStatus) client.setNotificationHandler(TaskStatusNotificationSchema, (n) => opts.onStatus!(n.params));
  if (opts.sampling) {
    const answer = opts.sampling;
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const c = req.params.messages[0]?.content;
      return {
        model: 'm',
        role: 'assistant',
        content: { type: 'text', text: answer(c && !Array.isArray(c) && c.type === 'text' ? c.text : '') },
      };
    });
  }
  open.push(client);
  return client;
}

async function createTask(c: Client, name: string, args: Record<string, unknown>, ttl = 60_000) {
  const r = await c.request({ method: 'tools/call', params: { name, arguments: args, task: { ttl } } }, CreateTaskResultSchema);
  return r.task;
}

async function until(c: Client, taskId: string, done: (status: string) => boolean) {
  for (let i = 0; i < 200; i++) {
    const t = await c.experimental.tasks.getTask(taskId);
    if (done(t.status)) return t;
    await sleep(25);
  }
  throw new Error(`task ${taskId} never got there`);
}

async function rpcError(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof McpError) return e;
    throw e;
  }
  throw new Error('expected a JSON-RPC error');
}

/** Every way to reach a task must fail exactly as for an id that never existed. */
async function expectUnreachable(c: Client, taskId: string) {
  for (const p of [
    c.experimental.tasks.getTask(taskId),
    c.experimental.tasks.getTaskResult(taskId, CallToolResultSchema),
    c.experimental.tasks.cancelTask(taskId),
  ]) {
    const e = await rpcError(p);
    expect(e.code).toBe(-32602);
    expect(e.message).toContain(NOT_FOUND);
  }
  expect((await c.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).not.toContain(taskId);
}

describe.each<Upstream>(['stdio', 'http'])('tasks over a %s upstream', (upstream) => {
  it('advertises tasks, passes taskSupport through, and runs create → get → result → list', async () => {
    const { o } = await org(upstream);
    const a = await agent(o, o.key);
    expect(a.getServerCapabilities()?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    // Tasks came with 2025-11-25: a client of an older revision is not offered them.
    const older = await post(
      `${workerUrl(stack, 0)}/mcp/${o.org.slug}`,
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'old', version: '1' } },
      },
      { key: o.key },
    );
    expect(older.json.result.capabilities.tools).toBeDefined();
    expect(older.json.result.capabilities.tasks).toBeUndefined();
    const tools = (await a.listTools()).tools;
    expect(tools.find((t) => t.name === 'jobs__slow')?.execution).toEqual({ taskSupport: 'optional' });
    expect(tools.find((t) => t.name === 'jobs__ask')?.execution).toEqual({ taskSupport: 'required' });

    const task = await createTask(a, 'jobs__slow', { ms: 150, text: 'hello' });
    expect(task.taskId).toMatch(/^tgt_[A-Za-z0-9_-]{24}$/);
    expect(task.status).toBe('working');
    expect((await a.experimental.tasks.getTask(task.taskId)).taskId).toBe(task.taskId);
    const done = await until(a, task.taskId, (s) => s === 'completed');
    expect(done.taskId).toBe(task.taskId);
    const result = await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(textOf(result)).toBe('done: hello');
    expect(result._meta?.['io.modelcontextprotocol/related-task']).toEqual({ taskId: task.taskId });
    const listed = (await a.experimental.tasks.listTasks()).tasks;
    expect(listed.map((t) => [t.taskId, t.status])).toEqual([[task.taskId, 'completed']]);
  });

  it('on the single-server endpoint: names unchanged, the same task lifecycle, and tasks/result outwaits the server timeout', async () => {
    const { o } = await org(upstream, undefined, { timeoutMs: 1000 });
    const a = await agent(o, o.key, { server: 'jobs' });
    expect((await a.listTools()).tools.find((t) => t.name === 'slow')?.execution).toEqual({ taskSupport: 'optional' });
    const task = await createTask(a, 'slow', { ms: 2000, text: 'single' });
    expect(task.taskId).toMatch(/^tgt_/);
    // Blocks until the task ends, though that is longer than the server's 1 s call timeout.
    const result = await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(textOf(result)).toBe('done: single');
    expect((await a.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toEqual([task.taskId]);
    await expectUnreachable(await agent(o, o.key), task.taskId);
  });

  it('the SDK client streams a task to its result (callToolStream)', async () => {
    const { o } = await org(upstream);
    const a = await agent(o, o.key);
    const kinds: string[] = [];
    let final: unknown;
    for await (const m of a.experimental.tasks.callToolStream(
      { name: 'jobs__slow', arguments: { ms: 50, text: 'streamed' } },
      CallToolResultSchema,
      {
        task: { ttl: 60_000 },
      },
    )) {
      kinds.push(m.type);
      if (m.type === 'result') final = m.result;
    }
    expect(kinds[0]).toBe('taskCreated');
    expect(kinds.at(-1)).toBe('result');
    expect(textOf(final)).toBe('done: streamed');
  });

  it("cancels a running task; a second cancel is the upstream's -32602, with no upstream id in it", async () => {
    const { o } = await org(upstream);
    const a = await agent(o, o.key);
    const task = await createTask(a, 'jobs__slow', { ms: 10_000, text: 'never' });
    const cancelled = await a.experimental.tasks.cancelTask(task.taskId);
    expect(cancelled).toMatchObject({ taskId: task.taskId, status: 'cancelled' });
    expect((await a.experimental.tasks.getTask(task.taskId)).status).toBe('cancelled');
    const again = await rpcError(a.experimental.tasks.cancelTask(task.taskId));
    expect(again.code).toBe(-32602);
    expect(again.message).toContain('terminal');
  });

  it('a failed task gives its error result through tasks/result', async () => {
    const { o } = await org(upstream);
    const a = await agent(o, o.key);
    const task = await createTask(a, 'jobs__fail', {});
    await until(a, task.taskId, (s) => s === 'failed');
    const result = await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('it broke');
  });

  it('nobody but the creating session reaches the task: other role, same role, second session, other org', async () => {
    const { o, keyB, keySameRole } = await org(upstream);
    const a = await agent(o, o.key);
    const task = await createTask(a, 'jobs__slow', { ms: 5000, text: 'mine' });
    const stranger = await createOrg(stack, { servers: [taskServer(upstream)] });
    await sleep(200);
    for (const c of [await agent(o, keyB), await agent(o, keySameRole), await agent(o, o.key), await agent(stranger, stranger.key)]) {
      await expectUnreachable(c, task.taskId);
    }
    // Still A's, untouched by those attempts.
    expect((await a.experimental.tasks.getTask(task.taskId)).status).toBe('working');
  });

  it('status notifications reach the owning session only, under the gateway id', async () => {
    const { o, keySameRole } = await org(upstream, 'shared');
    const mine: Array<Record<string, unknown>> = [];
    const theirs: Array<Record<string, unknown>> = [];
    const a = await agent(o, o.key, { onStatus: (p) => mine.push(p) });
    await agent(o, keySameRole, { onStatus: (p) => theirs.push(p) });
    await agent(o, o.key, { onStatus: (p) => theirs.push(p) });
    const task = await createTask(a, 'jobs__slow', { ms: 300, text: 'x' });
    await until(a, task.taskId, (s) => s === 'completed');
    for (let i = 0; i < 40 && mine.length === 0; i++) await sleep(25);
    expect(mine.map((p) => [p.taskId, p.status])).toContainEqual([task.taskId, 'completed']);
    await sleep(200);
    expect(theirs).toEqual([]);
  });

  it('input_required: the sampling request made during tasks/result goes to the creating agent', async () => {
    const { o, keySameRole } = await org(upstream, 'shared');
    const asked: string[] = [];
    const a = await agent(o, o.key, { sampling: (q) => `yes to ${q}` });
    await agent(o, keySameRole, {
      sampling: (q) => {
        asked.push(q);
        return 'wrong agent';
      },
    });
    const task = await createTask(a, 'jobs__ask', { question: 'proceed?' });
    await until(a, task.taskId, (s) => s === 'input_required');
    const result = await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(textOf(result)).toBe('answer: yes to proceed?');
    expect(asked).toEqual([]);
  });
});

describe('isolation modes', () => {
  it.each(['per-key', 'per-session', 'shared'])('%s: the task stays with its session', async (isolation) => {
    const { o, keySameRole } = await org('stdio', isolation);
    const a = await agent(o, o.key);
    const task = await createTask(a, 'jobs__slow', { ms: 100, text: isolation });
    await until(a, task.taskId, (s) => s === 'completed');
    expect(textOf(await a.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema))).toBe(`done: ${isolation}`);
    await expectUnreachable(await agent(o, o.key), task.taskId);
    await expectUnreachable(await agent(o, keySameRole), task.taskId);
  });
});

describe('across workers', () => {
  it('a task created on worker 0 is polled, read and cancelled on worker 1', async () => {
    const { o } = await org('stdio');
    const w0 = `${workerUrl(stack, 0)}/mcp/${o.org.slug}`;
    const w1 = `${workerUrl(stack, 1)}/mcp/${o.org.slug}`;
    const session = await openSession(w0, o.key);
    const rpc = async (url: string, method: string, params: Record<string, unknown>) => {
      const r = await post(url, { jsonrpc: '2.0', id: method, method, params }, { key: o.key, session });
      return r.json as { result?: Record<string, unknown>; error?: { code: number; message: string } };
    };
    const created = await rpc(w0, 'tools/call', { name: 'jobs__slow', arguments: { ms: 100, text: 'far' }, task: { ttl: 60_000 } });
    const taskId = (created.result!.task as { taskId: string }).taskId;
    expect((await rpc(w1, 'tasks/get', { taskId })).result?.taskId).toBe(taskId);
    const result = await rpc(w1, 'tasks/result', { taskId });
    expect(textOf(result.result)).toBe('done: far');
    expect((await rpc(w1, 'tasks/list', {})).result?.tasks).toEqual([expect.objectContaining({ taskId, status: 'completed' })]);

    const running = await rpc(w0, 'tools/call', { name: 'jobs__slow', arguments: { ms: 10_000, text: 'x' }, task: {} });
    const runningId = (running.result!.task as { taskId: string }).taskId;
    expect((await rpc(w1, 'tasks/cancel', { taskId: runningId })).result?.status).toBe('cancelled');
  });

  it('input_required across workers: the sampling request reaches the agent on the worker serving tasks/result', async () => {
    const { o } = await org('stdio');
    const a0 = await agent(o, o.key, { sampling: (q) => `ok ${q}` });
    const task = await createTask(a0, 'jobs__ask', { question: 'far?' });
    // The same session, through worker 1 (the session lives in Redis).
    const w1 = `${workerUrl(stack, 1)}/mcp/${o.org.slug}`;
    const session = (a0.transport as unknown as { sessionId: string }).sessionId;
    const res = await fetch(w1, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${o.key}`,
        'Mcp-Session-Id': session,
        'MCP-Protocol-Version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'r', method: 'tasks/result', params: { taskId: task.taskId } }),
    });
    const text = await readUntilResponse(res, session, o.key, w1);
    expect(text).toContain('answer: ok far?');
  });
});

/** Read an SSE response, answering sampling requests on it, until the response to id "r" arrives. */
async function readUntilResponse(res: Response, session: string, key: string, url: string): Promise<string> {
  const reader = res.body!.getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return buf;
    buf += Buffer.from(value).toString();
    for (const line of buf.split('\n').filter((l) => l.startsWith('data: '))) {
      const m = JSON.parse(line.slice(6)) as { id?: string; method?: string; result?: unknown };
      if (m.method === 'sampling/createMessage' && !buf.includes(`answered ${m.id}`)) {
        buf += `\nanswered ${m.id}\n`;
        await post(
          url,
          { jsonrpc: '2.0', id: m.id, result: { model: 'm', role: 'assistant', content: { type: 'text', text: 'ok far?' } } },
          { key, session },
        );
      }
      if (m.id === 'r') return JSON.stringify(m.result);
    }
  }
}

describe('faults', () => {
  it("unknown and malformed ids: -32602, as for anyone else's task", async () => {
    const { o } = await org('stdio');
    const a = await agent(o, o.key);
    await expectUnreachable(a, 'tgt_AAAAAAAAAAAAAAAAAAAAAAAA');
    expect((await rpcError(a.request({ method: 'tasks/get', params: {} } as never, CreateTaskResultSchema))).code).toBe(-32602);
    expect((await rpcError(a.experimental.tasks.listTasks('not-a-cursor'))).code).toBe(-32602);
  });

  it('an expired task is gone', async () => {
    const { o } = await org('stdio');
    const a = await agent(o, o.key);
    const task = await createTask(a, 'jobs__slow', { ms: 10, text: 'brief' }, 300);
    expect(task.ttl).toBe(300);
    await sleep(600);
    await expectUnreachable(a, task.taskId);
  });

  it('a server without the tasks capability refuses task-augmented calls (-32601) and lists no taskSupport', async () => {
    const { o } = await org('stdio');
    const a = await agent(o, o.key);
    const e = await rpcError(createTask(a, 'memo__recall', {}));
    expect(e.code).toBe(-32601);
    expect((await a.listTools()).tools.find((t) => t.name === 'memo__recall')?.execution?.taskSupport).toBeUndefined();
  });

  it('a role that no longer allows the tool denies every task operation with its rule', async () => {
    const { o } = await org('stdio');
    const a = await agent(o, o.key);
    const task = await createTask(a, 'jobs__slow', { ms: 5000, text: 'x' });
    await o.api.call('PUT', `/v1/orgs/${o.org.slug}/roles/${o.roleId}`, {
      name: 'changed',
      rules: {
        tools: [
          { effect: 'allow', match: '*' },
          { effect: 'deny', match: 'jobs__slow' },
        ],
      },
    });
    let e = await rpcError(a.experimental.tasks.getTask(task.taskId)).catch(() => null);
    for (let i = 0; i < 40 && e?.code !== -32003; i++) {
      await sleep(25);
      e = await rpcError(a.experimental.tasks.getTask(task.taskId)).catch(() => null);
    }
    expect(e?.code).toBe(-32003);
    expect(e!.data).toMatchObject({ rule: 'role:changed/tools[1]' });
    expect((await rpcError(a.experimental.tasks.cancelTask(task.taskId))).code).toBe(-32003);
  });

  it('audits the task-augmented call and each task operation against the tool', async () => {
    const { o } = await org('stdio');
    const a = await agent(o, o.key);
    const task = await createTask(a, 'jobs__slow', { ms: 10, text: 'audit' });
    await until(a, task.taskId, (s) => s === 'completed');
    const events = await auditEvents(stack, o.org.id, (es) => es.some((e) => e.method === 'tasks/get'));
    expect(events.find((e) => e.method === 'tools/call')).toMatchObject({ serverSlug: 'jobs', target: 'slow', outcome: 'ok' });
    expect(events.find((e) => e.method === 'tasks/get')).toMatchObject({
      serverSlug: 'jobs',
      target: 'slow',
      arguments: { taskId: task.taskId },
    });
  });
});
