import { join } from 'node:path';
import type { GatewayTaskRecord } from '@toolgate/contracts';
import Redis from 'ioredis';
import { nodeSpec, waitFor } from '../../test/fixtures/stdio-helpers';
import { BackendPool } from '../backends/pool';
import { UnconfinedLauncher } from '../backends/sandbox/launcher';
import type { Backend, CallContext } from '../backends/types';
import type { JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc';
import { TaskRemote } from './task-remote';

/** Two workers' TaskRemotes on real Redis; the holder runs the task fixture server as a real stdio backend. */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TASK_SERVER = join(__dirname, '../../test/fixtures/task-server.mjs');

const connections: Redis[] = [];
const redis = () => {
  const r = new Redis(REDIS_URL);
  connections.push(r);
  return r;
};
let pool: BackendPool;
let backend: Backend;
let holder: TaskRemote;
let origin: TaskRemote;
const INSTANCE = 'instance-1';

beforeAll(async () => {
  pool = new BackendPool({ stdio: { launcher: new UnconfinedLauncher(), killGraceMs: 500 } });
  backend = pool.get(nodeSpec(TASK_SERVER));
  await backend.ready();
  const suffix = Math.random().toString(36).slice(2);
  holder = new TaskRemote(redis(), redis(), `holder-${suffix}`, (key, instance) =>
    key === backend.key && instance === INSTANCE ? backend : null,
  );
  origin = new TaskRemote(redis(), redis(), `origin-${suffix}`, () => null);
  await Promise.all([holder.start(), origin.start()]);
});
afterAll(async () => {
  holder.close();
  origin.close();
  await pool.closeAll();
  for (const c of connections) c.disconnect();
});

function record(upstreamTaskId: string, over: Partial<GatewayTaskRecord> = {}): GatewayTaskRecord {
  const workerId = (holder as unknown as { workerId: string }).workerId;
  return {
    schemaVersion: 1,
    id: 'tgt_x',
    orgId: 'org',
    keyId: 'k',
    sessionId: 's1',
    serverId: backend.server.id,
    serverSlug: backend.server.slug,
    tool: 'ask',
    upstreamTaskId,
    backendKey: backend.key,
    backendInstance: INSTANCE,
    workerId,
    createdAt: 0,
    expiresAt: Date.now() + 60_000,
    task: {},
    ...over,
  };
}

const ctx = (over: Partial<CallContext> = {}): CallContext & { timeoutMs: number } => ({ sessionId: 's1', timeoutMs: 5000, ...over });

it('runs tasks/result on the holding worker and relays its sampling request to the origin and the answer back', async () => {
  const created = await backend.request('tools/call', { name: 'ask', arguments: { question: 'go?' }, task: {} }, { sessionId: 's1' });
  const upstreamId = (created.task as { taskId: string }).taskId;
  const asked: JsonRpcRequest[] = [];
  const notes: JsonRpcNotification[] = [];
  const result = await origin.call(
    record(upstreamId),
    'tasks/result',
    { taskId: upstreamId },
    ctx({
      onServerRequest: async (r) => {
        asked.push(r);
        return { model: 'm', role: 'assistant', content: { type: 'text', text: 'go!' } };
      },
      onNotification: (n) => notes.push(n),
    }),
  );
  expect(asked.map((r) => r.method)).toEqual(['sampling/createMessage']);
  expect(asked[0]!.params?._meta).toEqual({ 'io.modelcontextprotocol/related-task': { taskId: upstreamId } });
  expect(result.content).toEqual([{ type: 'text', text: 'answer: go!' }]);
});

it('a worker nobody runs answers -32005 once the acknowledgement is overdue', async () => {
  const started = Date.now();
  const e = await origin.call(record('up-1', { workerId: 'gone-worker' }), 'tasks/get', { taskId: 'up-1' }, ctx()).catch((x: Error) => x);
  expect((e as unknown as { error: { code: number } }).error.code).toBe(-32005);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
});

it('a holder that no longer runs that backend instance reports the task lost', async () => {
  const e = await origin.call(record('up-1', { backendInstance: 'old' }), 'tasks/get', { taskId: 'up-1' }, ctx()).catch((x: Error) => x);
  expect((e as unknown as { error: { code: number; message: string } }).error).toMatchObject({ code: -32602 });
  expect((e as Error).message).toContain('restarted');
});

it('the origin cancelling stops the call on the holder', async () => {
  const created = await backend.request(
    'tools/call',
    { name: 'slow', arguments: { ms: 10_000, text: 'x' }, task: {} },
    { sessionId: 's1' },
  );
  const upstreamId = (created.task as { taskId: string }).taskId;
  const abort = new AbortController();
  const pending = origin.call(record(upstreamId), 'tasks/result', { taskId: upstreamId }, ctx({ signal: abort.signal }));
  await waitFor(() => backend.inFlight === 1, 3000);
  abort.abort();
  await expect(pending).rejects.toThrow('cancelled');
  await waitFor(() => backend.inFlight === 0, 3000);
});
