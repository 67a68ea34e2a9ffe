import { randomBytes } from 'node:crypto';
import { type GatewayTaskRecord, type PolicySnapshot, redisKeys, type SnapshotKey, type SnapshotServer } from '@toolgate/contracts';
import Redis from 'ioredis';
import { join } from 'node:path';
import { makeRedactor } from '@toolgate/policy';
import { FIXTURE, nodeSpec } from '../../test/fixtures/stdio-helpers';
import { BackendPool } from '../backends/pool';
import { UnconfinedLauncher } from '../backends/sandbox/launcher';
import type { JsonRpcNotification } from './jsonrpc';
import { type AgentChannel, type Caller } from './caller';
import { newRecord, toRpcError } from './call-record';
import type { SessionState } from './sessions';
import { RedisTaskStore } from '../redis/task-store';
import {
  acceptsTaskCalls,
  MAX_TASK_TTL_MS,
  RELATED_TASK,
  relatedChannel,
  swapRelated,
  TASK_PAGE_SIZE,
  TaskBroker,
  type TaskHost,
  taskTtl,
  withTaskSupport,
} from './tasks';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TASKS_CAPS = { tasks: { requests: { tools: { call: {} } } } };

describe('task protocol helpers', () => {
  it('keeps a task for its ttl, at most MAX_TASK_TTL_MS; unlimited or nonsense ttls get the cap', () => {
    expect(taskTtl(5000)).toBe(5000);
    expect(taskTtl(MAX_TASK_TTL_MS * 10)).toBe(MAX_TASK_TTL_MS);
    for (const t of [null, undefined, -1, 0, Number.NaN, '5000']) expect(taskTtl(t)).toBe(MAX_TASK_TTL_MS);
  });

  it('an upstream accepts task calls only with capabilities.tasks.requests.tools.call', () => {
    expect(acceptsTaskCalls(TASKS_CAPS)).toBe(true);
    expect(acceptsTaskCalls({ tasks: { list: {}, cancel: {} } })).toBe(false);
    expect(acceptsTaskCalls({ tasks: { requests: { sampling: {} } } })).toBe(false);
    expect(acceptsTaskCalls({})).toBe(false);
  });

  it('drops execution.taskSupport from tools of an upstream that does not accept task calls', () => {
    const items = [{ name: 'a', execution: { taskSupport: 'optional', other: 1 } }, { name: 'b' }];
    expect(withTaskSupport(TASKS_CAPS, items)).toBe(items);
    expect(withTaskSupport({}, items)).toEqual([{ name: 'a', execution: { other: 1 } }, { name: 'b' }]);
    expect(items[0]!.execution?.taskSupport).toBe('optional'); // the cached catalogue is not touched
  });

  it('swaps the related-task id for the gateway id, copying instead of mutating', () => {
    const rec = { id: 'tgt_gw', upstreamTaskId: 'up-1' };
    const msg = { content: [], _meta: { [RELATED_TASK]: { taskId: 'up-1' }, other: 'kept' } };
    expect(swapRelated(msg, rec)).toEqual({ content: [], _meta: { [RELATED_TASK]: { taskId: 'tgt_gw' }, other: 'kept' } });
    expect(msg._meta[RELATED_TASK].taskId).toBe('up-1');
    expect(swapRelated({ x: 1 }, rec)).toEqual({ x: 1 });
  });

  it('a task channel rewrites the ids of notifications and server requests on their way to the agent', async () => {
    const seen: unknown[] = [];
    const inner: AgentChannel = {
      notify: (n) => seen.push(n),
      request: async (method, params) => {
        seen.push({ method, params });
        return {};
      },
    };
    const ch = relatedChannel(inner, { id: 'tgt_gw', upstreamTaskId: 'up-1' });
    const meta = { _meta: { [RELATED_TASK]: { taskId: 'up-1' } } };
    ch.notify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', ...meta } });
    await ch.request('sampling/createMessage', { messages: [], ...meta });
    expect(JSON.stringify(seen)).not.toContain('up-1');
    expect(JSON.stringify(seen).match(/tgt_gw/g)).toHaveLength(2);
  });

  it('gateway task ids are unguessable and url-safe', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => TaskBroker.newId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^tgt_[A-Za-z0-9_-]{24}$/);
  });
});

// ---- with Redis ------------------------------------------------------------------------------

let redis: Redis;
let pool: BackendPool;
beforeAll(() => {
  redis = new Redis(REDIS_URL);
  pool = new BackendPool({ stdio: { launcher: new UnconfinedLauncher(), killGraceMs: 500 } });
});
afterAll(async () => {
  await pool.closeAll();
  redis.disconnect();
});

const TASK_SERVER = join(__dirname, '../../test/fixtures/task-server.mjs');
const server: SnapshotServer = nodeSpec(TASK_SERVER, [], { slug: 'jobs' }).server;

function who(orgId: string, keyId: string, sessionId: string): { caller: Caller; session: SessionState } {
  const caller = {
    snapshot: { orgId } as PolicySnapshot,
    key: { id: keyId } as SnapshotKey,
    principal: {},
    ip: null,
    scope: null,
  } as Caller;
  const session = { id: sessionId, orgId, keyId } as SessionState;
  return { caller, session };
}

/** A broker on a fresh org id, its store on real Redis, the task fixture server as its backend (started on first use). */
function setup(now = () => Date.now()) {
  const orgId = `org-${randomBytes(4).toString('hex')}`;
  const notices: Array<{ sessionId: string; n: JsonRpcNotification }> = [];
  const store = new RedisTaskStore(redis);
  const broker = new TaskBroker({
    store,
    pool,
    workerId: 'w1',
    remote: null,
    now,
    maxTasksPerSession: 3,
    sessionChannel: (sessionId) => ({ notify: (n) => notices.push({ sessionId, n }), request: async () => ({}) }),
  });
  const backend = pool.get(nodeSpec(TASK_SERVER, [], { orgId }));
  return { orgId, store, broker, backend, notices };
}

const SECRET = 'sk-live-0123456789abcdef';
const redact = makeRedactor([SECRET], []);

/** Record a task as if the backend had created it (the upstream never hears of this id). */
async function create(s: ReturnType<typeof setup>, owner: ReturnType<typeof who>, upstreamTaskId: string, ttl: number | null = 60_000) {
  const task = { taskId: upstreamTaskId, status: 'working', ttl, createdAt: 'c', lastUpdatedAt: 'c' };
  return createdFrom(s, owner, { task });
}

async function createdFrom(s: ReturnType<typeof setup>, owner: ReturnType<typeof who>, result: Record<string, unknown>) {
  const r = await s.broker.created({ ...owner, server, tool: 'slow', arguments: { ms: 1 }, backend: s.backend, redact }, result);
  return (r.task as { taskId: string }).taskId;
}

/** What McpCore lends the broker, with the policy answer chosen by the test. */
function host(owner: ReturnType<typeof who>, opts: { deny?: boolean } = {}): TaskHost {
  return {
    ...owner,
    record: newRecord('tasks/get'),
    channel: { notify: () => undefined, request: async () => ({}) },
    signal: new AbortController().signal,
    server: (slug) => (slug === server.slug ? server : null),
    authorize: () => {
      if (opts.deny) throw new Error('denied by policy');
    },
    redact: () => redact,
    context: () => ({ sessionId: owner.session.id }),
  };
}

describe('RedisTaskStore', () => {
  it("pages a session's tasks oldest first with an opaque cursor, skipping expired ones", async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    const ids: string[] = [];
    for (let i = 0; i < TASK_PAGE_SIZE + 5; i++) ids.push(await create(s, a, `up-${i}`));
    await redis.del(redisKeys.task(s.orgId, ids[1]!)); // as if it had expired
    const first = await s.store.page(s.orgId, 's1', undefined, TASK_PAGE_SIZE);
    const second = await s.store.page(s.orgId, 's1', first!.nextCursor, TASK_PAGE_SIZE);
    expect(first!.records).toHaveLength(TASK_PAGE_SIZE);
    expect(second!.nextCursor).toBeUndefined();
    const paged = [...first!.records, ...second!.records];
    // Oldest first (creation ms, then id), every live task exactly once.
    const order = paged.map((r) => [r.createdAt, r.id] as const);
    expect(order).toEqual([...order].sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : 1)));
    expect(paged.map((r) => r.id).sort()).toEqual(ids.filter((_, i) => i !== 1).sort());
    expect(await redis.zscore(redisKeys.sessionTasks(s.orgId, 's1'), ids[1]!)).toBeNull();
    expect(await s.store.page(s.orgId, 's1', 'bm90LWEtY3Vyc29y', 10)).toBeNull();
  });

  it('a record expires with its task; update keeps the expiry and never revives it', async () => {
    const s = setup();
    const id = await create(s, who(s.orgId, 'k1', 's1'), 'up-x', 200);
    const rec = (await s.store.get(s.orgId, id)) as GatewayTaskRecord;
    expect(await redis.pttl(redisKeys.task(s.orgId, id))).toBeLessThanOrEqual(200);
    expect((await s.store.byUpstream(rec.backendKey, 'up-x'))?.id).toBe(id);
    await s.store.update({ ...rec, task: { ...rec.task, status: 'completed' } });
    expect(await redis.pttl(redisKeys.task(s.orgId, id))).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300));
    await s.store.update(rec);
    expect(await s.store.get(s.orgId, id)).toBeNull();
    expect(await s.store.byUpstream(rec.backendKey, 'up-x')).toBeNull();
  });
});

describe('TaskBroker', () => {
  it('records a created task under a gateway id; a direct result passes through', async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    const id = await create(s, a, 'up-1');
    expect(id).toMatch(/^tgt_/);
    const rec = await s.store.get(s.orgId, id);
    expect(rec).toMatchObject({
      keyId: 'k1',
      sessionId: 's1',
      upstreamTaskId: 'up-1',
      backendKey: s.backend.key,
      workerId: 'w1',
      tool: 'slow',
    });
    const direct = { content: [{ type: 'text', text: 'ran' }] };
    expect(await s.broker.created({ ...a, server, tool: 'slow', arguments: undefined, backend: s.backend, redact }, direct)).toBe(direct);
  });

  it('answers another key, another session and an expired task exactly like an unknown id', async () => {
    let now = Date.now();
    const s = setup(() => now);
    const id = await create(s, who(s.orgId, 'k1', 's1'), 'up-1');
    const used = s.backend.lastUsedAt;
    const errorOf = (owner: ReturnType<typeof who>, taskId: string) =>
      s.broker.operate('tasks/get', { taskId }, host(owner)).then(
        () => null,
        (e: { code: number; message: string }) => ({ code: e.code, message: e.message }),
      );
    const unknown = await errorOf(who(s.orgId, 'k1', 's1'), 'tgt_nope');
    expect(unknown).toEqual({ code: -32602, message: 'Failed to retrieve task: Task not found' });
    expect(await errorOf(who(s.orgId, 'k2', 's1'), id)).toEqual(unknown);
    expect(await errorOf(who(s.orgId, 'k1', 's2'), id)).toEqual(unknown);
    expect(await errorOf(who('other-org', 'k1', 's1'), id)).toEqual(unknown);
    now += 61_000;
    expect(await errorOf(who(s.orgId, 'k1', 's1'), id)).toEqual(unknown);
    expect(s.backend.lastUsedAt).toBe(used); // none of it reached the upstream
  });

  it('runs operations on the backend holding the task, under the upstream id, showing the gateway id only', async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    await s.backend.ready();
    const args = { ms: 50, text: `uses ${SECRET}` };
    const id = await createdFrom(
      s,
      a,
      await s.backend.request('tools/call', { name: 'slow', arguments: args, task: {} }, { sessionId: 's1' }),
    );
    let h = host(a);
    let task: Record<string, unknown> = {};
    for (let i = 0; i < 100 && task.status !== 'completed'; i++) {
      h = host(a);
      task = (await s.broker.operate('tasks/get', { taskId: id }, h)).result;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(task).toMatchObject({ taskId: id, status: 'completed' });
    expect(task._meta).toBeUndefined();
    expect(h.record).toMatchObject({ target: 'slow', arguments: { taskId: id } });
    const { result } = await s.broker.operate('tasks/result', { taskId: id }, h);
    expect(result).toEqual({
      content: [{ type: 'text', text: 'done: uses [REDACTED:secret]' }],
      _meta: { [RELATED_TASK]: { taskId: id } },
    });
    expect((await s.store.get(s.orgId, id))?.task.status).toBe('completed');
  });

  it('an upstream error that names the upstream task names the gateway task instead', async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    await s.backend.ready();
    const id = await create(s, a, 'up-unknown-to-the-upstream');
    const h = host(a);
    // As the agent gets it (McpCore turns backend errors into JSON-RPC errors).
    const e = toRpcError(await s.broker.operate('tasks/result', { taskId: id }, h).catch((x: Error) => x));
    expect(e.code).toBe(-32602);
    expect(e.message).toContain(`Task not found: ${id}`);
    expect(e.message).not.toContain('up-unknown');
    expect(h.record.outcome).toBe('error');
  });

  it('checks policy before anything reaches the backend', async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    const id = await create(s, a, 'up-1');
    const used = s.backend.lastUsedAt;
    await expect(s.broker.operate('tasks/result', { taskId: id }, host(a, { deny: true }))).rejects.toThrow('denied by policy');
    expect(s.backend.lastUsedAt).toBe(used);
  });

  it('a task whose backend instance is gone is reported lost to its owner', async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    const id = await create(s, a, 'up-1');
    pool.retireWhere((k) => k === s.backend.key);
    const e: unknown = await s.broker.operate('tasks/get', { taskId: id }, host(a)).catch((x: Error) => x);
    expect((e as { code: number }).code).toBe(-32602);
    expect((e as Error).message).toContain('restarted');
  });

  it('keeps for tasks/list only what the creator could see of a task', async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    const task = { taskId: 'up-9', status: 'working', ttl: 1000, createdAt: 'c', lastUpdatedAt: 'c', statusMessage: `using ${SECRET}` };
    const id = await createdFrom(s, a, { task });
    expect(JSON.stringify(await s.store.get(s.orgId, id))).not.toContain(SECRET);
  });

  it('accepts task calls only for an upstream that declares them, and a bounded number per session', async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    const plain = pool.get(nodeSpec(FIXTURE, [], { orgId: s.orgId }));
    await expect(s.broker.assertAugmentable(plain, 'echo', a.session)).rejects.toMatchObject({ code: -32601 });
    await s.broker.assertAugmentable(s.backend, 'slow', a.session);
    const ids = [await create(s, a, 'up-1'), await create(s, a, 'up-2'), await create(s, a, 'up-3')];
    await expect(s.broker.assertAugmentable(s.backend, 'slow', a.session)).rejects.toMatchObject({ code: -32600 });
    // Another session is not held back by this one's tasks.
    await s.broker.assertAugmentable(s.backend, 'slow', who(s.orgId, 'k1', 's2').session);
    await redis.del(redisKeys.task(s.orgId, ids[0]!)); // one expired: room again
    await s.broker.assertAugmentable(s.backend, 'slow', a.session);
  });

  it("lists only the caller's session, paginated", async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    const mine = [await create(s, a, 'up-1'), await create(s, a, 'up-2')];
    await create(s, who(s.orgId, 'k1', 's2'), 'up-3');
    await create(s, who(s.orgId, 'k2', 's9'), 'up-4');
    const listed = await s.broker.list(a.caller, a.session, {});
    expect((listed.tasks as Array<{ taskId: string }>).map((t) => t.taskId).sort()).toEqual(mine.sort());
    expect(listed.nextCursor).toBeUndefined();
    await expect(s.broker.list(a.caller, a.session, { cursor: 42 })).rejects.toMatchObject({ code: -32602 });
  });

  it('sends a status notification to the owning session only, with the gateway id, and keeps the state', async () => {
    const s = setup();
    const a = who(s.orgId, 'k1', 's1');
    const id = await create(s, a, 'up-1');
    const status = {
      taskId: 'up-1',
      status: 'completed',
      ttl: 1,
      createdAt: 'c',
      lastUpdatedAt: 'd',
      _meta: { [RELATED_TASK]: { taskId: 'up-1' } },
    };
    await s.broker.onStatus(s.backend.key, { jsonrpc: '2.0', method: 'notifications/tasks/status', params: status });
    await s.broker.onStatus(s.backend.key, {
      jsonrpc: '2.0',
      method: 'notifications/tasks/status',
      params: { ...status, taskId: 'up-unknown' },
    });
    await s.broker.onStatus('other-backend', { jsonrpc: '2.0', method: 'notifications/tasks/status', params: status });
    expect(s.notices).toEqual([
      {
        sessionId: 's1',
        n: {
          jsonrpc: '2.0',
          method: 'notifications/tasks/status',
          params: { taskId: id, status: 'completed', ttl: 1, createdAt: 'c', lastUpdatedAt: 'd' },
        },
      },
    ]);
    expect((await s.store.get(s.orgId, id))?.task.status).toBe('completed');
  });
});
