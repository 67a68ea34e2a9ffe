import type { JsonRpcNotification, JsonRpcRequest } from '../core/jsonrpc';
import { RpcCode } from '../core/jsonrpc';
import { EVERYTHING, FIXTURE, nodeSpec, processState, resultText, waitFor } from '../../test/fixtures/stdio-helpers';
import { CallCancelledError } from './upstream/errors';
import { UnconfinedLauncher } from './sandbox/launcher';
import { StdioBackend, type StdioBackendOptions } from './stdio';
import { BackendError, type BackendSpec, type CallContext } from './types';

/**
 * StdioBackend against real stdio MCP servers: @modelcontextprotocol/server-everything, and
 * test/fixtures/stdio-server.mjs (the SDK's McpServer with tools that misbehave on purpose).
 */

const backends: StdioBackend[] = [];
const pids = new Set<number>();

// The protocol and lifecycle under test do not depend on confinement; the sandbox has its own suites.
const launcher = new UnconfinedLauncher();
type Options = Partial<StdioBackendOptions>;

function make(spec: BackendSpec, options: Options = {}): StdioBackend {
  const b = new StdioBackend(spec, { launcher, killGraceMs: 1000, ...options });
  backends.push(b);
  return b;
}
const everything = (options: Options = {}, env: Record<string, string> = {}) => make(nodeSpec(EVERYTHING, ['stdio'], { env }), options);
const fixture = (options: Options = {}, env: Record<string, string> = {}) => make(nodeSpec(FIXTURE, [], { env }), options);

/** Remember the running child so the suite can check it is gone at the end. */
function trackPid(b: StdioBackend): number {
  const pid = b.pid!;
  expect(pid).toBeGreaterThan(0);
  pids.add(pid);
  return pid;
}

const call = (
  b: StdioBackend,
  name: string,
  args: Record<string, unknown> = {},
  ctx: Partial<CallContext> = {},
  meta?: Record<string, unknown>,
) => b.request('tools/call', meta ? { name, arguments: args, _meta: meta } : { name, arguments: args }, { sessionId: 's1', ...ctx });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** server-everything asks for roots 350 ms after initialize; whichever call is in flight answers. */
const rootsOrSample = (text: string) => async (r: JsonRpcRequest) =>
  r.method === 'roots/list' ? { roots: [] } : { model: 'test-model', role: 'assistant', content: { type: 'text', text } };

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

afterAll(() => {
  // No child of any test may survive its backend.
  for (const pid of pids) expect(processState(pid)).toBe('gone');
});

describe('StdioBackend with server-everything', () => {
  it('initializes once, shared by concurrent callers', async () => {
    const b = everything();
    expect(b.health).toBe('starting');
    const [a, c] = await Promise.all([b.ready(), b.ready()]);
    expect(a).toBe(c);
    expect(a.protocolVersion).toBe('2025-11-25');
    expect(a.serverInfo.name).toBe('mcp-servers/everything');
    expect(a.capabilities).toHaveProperty('tools');
    expect(typeof a.instructions).toBe('string');
    expect(b.health).toBe('up');
    expect(b.starts).toBe(1);
    trackPid(b);
    expect(await b.ready()).toBe(a);
  });

  it('lists tools (conditional ones too, since the gateway declares sampling) and calls echo', async () => {
    const b = everything();
    const list = await b.request('tools/list', {}, { sessionId: 's1' });
    const names = (list.tools as Array<{ name: string }>).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'get-sum', 'trigger-long-running-operation', 'trigger-sampling-request']));
    expect(resultText(await call(b, 'echo', { message: 'hello' }))).toBe('Echo: hello');
    trackPid(b);
  });

  it('gives the child a minimal environment plus its own, and NODE_OPTIONS only for a memory cap', async () => {
    process.env.GATEWAY_ONLY_SECRET = 'must-not-leak';
    const prevNodeOptions = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = '--inspect=0';
    try {
      const plain = everything({}, { API_TOKEN: 's3cret' });
      const env = JSON.parse(resultText(await call(plain, 'get-env'))) as Record<string, string>;
      expect(env.API_TOKEN).toBe('s3cret');
      expect(env.GATEWAY_ONLY_SECRET).toBeUndefined();
      expect(env.NODE_OPTIONS).toBeUndefined();
      const allowed = new Set(['PATH', 'HOME', 'LANG', 'TMPDIR', 'API_TOKEN']);
      // Node itself may add a few variables of its own at start-up; none comes from the gateway.
      for (const k of Object.keys(env)) if (!allowed.has(k)) expect(process.env[k]).toBeUndefined();
      expect(env.PATH).toBe(process.env.PATH);

      const capped = everything({ memoryLimitMb: 300 });
      const cappedEnv = JSON.parse(resultText(await call(capped, 'get-env'))) as Record<string, string>;
      expect(cappedEnv.NODE_OPTIONS).toBe('--max-old-space-size=300');
      trackPid(plain);
      trackPid(capped);
    } finally {
      delete process.env.GATEWAY_ONLY_SECRET;
      if (prevNodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = prevNodeOptions;
    }
  });

  it('keeps two sessions apart when they use the same progress token concurrently', async () => {
    const b = everything();
    await b.ready();
    const progress: Record<string, JsonRpcNotification[]> = { s1: [], s2: [] };
    const ctx = (sessionId: 's1' | 's2'): Partial<CallContext> => ({ sessionId, onNotification: (n) => progress[sessionId].push(n) });
    const [r1, r2, e1, e2] = await Promise.all([
      call(b, 'trigger-long-running-operation', { duration: 0.6, steps: 3 }, ctx('s1'), { progressToken: 1 }),
      call(b, 'trigger-long-running-operation', { duration: 0.4, steps: 2 }, ctx('s2'), { progressToken: 1 }),
      call(b, 'echo', { message: 'one' }, ctx('s1')),
      call(b, 'echo', { message: 'two' }, ctx('s2')),
    ]);
    expect(resultText(r1)).toMatch(/Steps: 3/);
    expect(resultText(r2)).toMatch(/Steps: 2/);
    expect(resultText(e1)).toBe('Echo: one');
    expect(resultText(e2)).toBe('Echo: two');
    const prog = (s: 's1' | 's2') =>
      progress[s]
        .filter((n) => n.method === 'notifications/progress')
        .map((n) => [n.params?.progressToken, n.params?.progress, n.params?.total]);
    expect(prog('s1')).toEqual([
      [1, 1, 3],
      [1, 2, 3],
      [1, 3, 3],
    ]);
    expect(prog('s2')).toEqual([
      [1, 1, 2],
      [1, 2, 2],
    ]);
    trackPid(b);
  });

  it('maps progress of trigger-long-running-operation back to the agent token', async () => {
    const b = everything();
    const got: JsonRpcNotification[] = [];
    const res = await call(
      b,
      'trigger-long-running-operation',
      { duration: 1, steps: 3 },
      { onNotification: (n) => got.push(n) },
      { progressToken: 'agent-tok' },
    );
    expect(resultText(res)).toBe('Long running operation completed. Duration: 1 seconds, Steps: 3.');
    expect(got.filter((n) => n.method === 'notifications/progress').map((n) => n.params)).toEqual([
      { progressToken: 'agent-tok', progress: 1, total: 3 },
      { progressToken: 'agent-tok', progress: 2, total: 3 },
      { progressToken: 'agent-tok', progress: 3, total: 3 },
    ]);
    trackPid(b);
  });

  it('routes trigger-sampling-request to onServerRequest and puts the answer in the tool result', async () => {
    const b = everything();
    const seen: JsonRpcRequest[] = [];
    const onServerRequest = async (r: JsonRpcRequest) => {
      seen.push(r);
      return rootsOrSample('sampled by the agent')(r);
    };
    const res = await call(b, 'trigger-sampling-request', { prompt: 'say hi', maxTokens: 5 }, { onServerRequest });
    expect(resultText(res)).toMatch(/sampled by the agent/);
    const sampling = seen.find((r) => r.method === 'sampling/createMessage')!;
    expect(sampling.params).toMatchObject({
      maxTokens: 5,
      messages: [{ role: 'user', content: { type: 'text', text: expect.stringMatching(/say hi/) } }],
    });
    trackPid(b);
  });

  it('times out a long operation, and the backend stays usable', async () => {
    const b = everything();
    await b.ready();
    const started = Date.now();
    const err = (await call(b, 'trigger-long-running-operation', { duration: 5, steps: 5 }, { timeoutMs: 200 }).catch(
      (e) => e,
    )) as BackendError;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.kind).toBe('timeout');
    expect(err.error.code).toBe(RpcCode.UpstreamTimeout);
    expect(err.message).toMatch(/MCP server "srv\d+" did not answer tools\/call within 200 ms/);
    expect(b.inFlight).toBe(0);
    expect(resultText(await call(b, 'echo', { message: 'still here' }))).toBe('Echo: still here');
    trackPid(b);
  });
});

describe('StdioBackend with the fixture server', () => {
  it('sends notifications/cancelled on timeout (the server sees it)', async () => {
    const b = fixture();
    const err = (await call(b, 'sleep', { ms: 3000 }, { timeoutMs: 150 }).catch((e) => e)) as BackendError;
    expect(err.kind).toBe('timeout');
    await waitFor(() => /fixture: cancelled: Timed out after \d+ ms/.test(b.stderrTail()));
    trackPid(b);
  });

  it('sends notifications/cancelled when the signal aborts', async () => {
    const b = fixture();
    await b.ready();
    const ac = new AbortController();
    setTimeout(() => ac.abort('the agent closed the stream'), 100);
    const err = await call(b, 'sleep', { ms: 3000 }, { signal: ac.signal }).catch((e) => e);
    expect(err).toBeInstanceOf(CallCancelledError);
    await waitFor(() => b.stderrTail().includes('fixture: cancelled: the agent closed the stream'));
    expect(b.inFlight).toBe(0);
    trackPid(b);
  });

  it('lets a call waiting for start-up be cancelled', async () => {
    const b = fixture({ initTimeoutMs: 2000 }, { FIXTURE_MODE: 'hang' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await call(b, 'echo', { message: 'x' }, { signal: ac.signal }).catch((e) => e);
    expect(err).toBeInstanceOf(CallCancelledError);
    expect(b.inFlight).toBe(0); // the gateway's own initialize is not an agent call
    trackPid(b);
  });

  it('relays logging to the only call in flight and list_changed to unsolicited listeners', async () => {
    const b = fixture();
    const unsolicited: string[] = [];
    b.onUnsolicited((n) => unsolicited.push(n.method));
    const mine: JsonRpcNotification[] = [];
    await call(b, 'log', { message: 'working on it' }, { onNotification: (n) => mine.push(n) });
    expect(mine).toEqual([
      { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', logger: 'fixture', data: 'working on it' } },
    ]);
    await call(b, 'list-changed');
    await waitFor(() => unsolicited.includes('notifications/tools/list_changed'));
    trackPid(b);
  });

  it('reassembles lines split across reads (a 3 MiB echo)', async () => {
    const b = fixture();
    const big = 'é'.repeat(1536 * 1024);
    expect(resultText(await call(b, 'echo', { message: big }))).toBe(big);
    trackPid(b);
  });

  it('ignores a stray non-JSON line on stdout but keeps it in the stderr tail', async () => {
    const b = fixture();
    expect(resultText(await call(b, 'noise'))).toBe('after noise');
    expect(b.stderrTail()).toContain('[stdout, not JSON-RPC] this is not JSON-RPC');
    expect(b.health).toBe('up');
    trackPid(b);
  });

  it('fails a call cleanly when the child crashes, then restarts it after the backoff', async () => {
    const b = fixture({ restartBackoff: { initialMs: 300 } });
    await b.ready();
    const firstPid = trackPid(b);
    const err = (await call(b, 'crash', { code: 3 }).catch((e) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.kind).toBe('crashed');
    expect(err.error.code).toBe(RpcCode.UpstreamUnavailable);
    // stderr is the operators' view: kept beside the error, never in the message an agent gets.
    expect(err.message).toMatch(/^MCP server "srv\d+" exited with code 3$/);
    expect(err.operator.stderrTail).toBe('fixture: crashing on purpose');
    expect(err.error.data).toEqual({ exitCode: 3, signal: null });
    expect(b.health).toBe('down');
    expect(b.inFlight).toBe(0);
    expect(processState(firstPid)).toBe('gone');

    // Inside the backoff window: fail fast, saying when the next attempt is.
    const fast = (await call(b, 'echo', { message: 'x' }).catch((e) => e)) as BackendError;
    expect(fast.kind).toBe('unavailable');
    expect(fast.message).toMatch(/is down \(last failure: .*exited with code 3.*\); the next restart attempt is in \d+ ms/);
    expect((fast.error.data as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(300);

    await sleep(320);
    expect(resultText(await call(b, 'echo', { message: 'back' }))).toBe('back');
    expect(b.health).toBe('up');
    expect(b.starts).toBe(2);
    expect(trackPid(b)).not.toBe(firstPid);
  });

  it('doubles the backoff while the server keeps failing at start-up', async () => {
    const b = fixture({ restartBackoff: { initialMs: 100, maxMs: 400 } }, { FIXTURE_MODE: 'exit-on-start' });
    const first = (await b.ready().catch((e) => e)) as BackendError;
    expect(first.kind).toBe('crashed');
    expect(first.message).toMatch(/exited with code 2$/);
    expect(first.operator.stderrTail).toBe('fixture: bad configuration, giving up');
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const fast = (await b.ready().catch((e) => e)) as BackendError;
      const wait = (fast.error.data as { retryAfterMs: number }).retryAfterMs;
      delays.push(wait);
      await sleep(wait + 10);
      await b.ready().catch(() => undefined);
    }
    // 100, 200, 400, then capped at 400 (measured a moment after each failure).
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeGreaterThan(150);
    expect(delays[2]).toBeGreaterThan(300);
    expect(delays[3]).toBeLessThanOrEqual(400);
    expect(delays[3]).toBeGreaterThan(300);
    expect(b.starts).toBe(5);
  });

  it('reports a command that does not exist', async () => {
    const spec = nodeSpec(FIXTURE);
    const b = make({ ...spec, server: { ...spec.server, command: 'toolgate-no-such-command', args: [] } });
    const err = (await call(b, 'echo', { message: 'x' }).catch((e) => e)) as BackendError;
    expect(err.kind).toBe('unavailable');
    expect(err.error.code).toBe(RpcCode.UpstreamUnavailable);
    expect(err.message).toMatch(/MCP server "srv\d+" could not be started: command not found: "toolgate-no-such-command"/);
    expect(b.health).toBe('down');
    expect(b.pid).toBeUndefined();
  });

  it('refuses a stdio server without a command', () => {
    const spec = nodeSpec(FIXTURE);
    expect(() => new StdioBackend({ ...spec, server: { ...spec.server, command: null } }, { launcher })).toThrow(
      /stdio server without a command/,
    );
  });

  it('times out initialize and stops the child', async () => {
    const b = fixture({ initTimeoutMs: 200 }, { FIXTURE_MODE: 'hang' });
    const ready = b.ready();
    await waitFor(() => b.pid !== undefined);
    const pid = trackPid(b);
    const err = (await ready.catch((e) => e)) as BackendError;
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/did not answer initialize within 200 ms/);
    expect(b.health).toBe('down');
    expect(processState(pid)).toBe('gone');
  });

  it('refuses a server that answers with a protocol version the gateway does not speak', async () => {
    const b = fixture({}, { FIXTURE_MODE: 'old-protocol' });
    const err = (await b.ready().catch((e) => e)) as BackendError;
    expect(err.message).toMatch(/unsupported protocol version 2099-01-01 \(the gateway speaks 2025-11-25/);
    expect(b.health).toBe('down');
  });

  it('kills a child whose memory goes over the RSS cap', async () => {
    const b = fixture({ memoryLimitMb: 150, memoryPollMs: 100 });
    await b.ready();
    const pid = trackPid(b);
    const err = (await call(b, 'hog', { mb: 400 }).catch((e) => e)) as BackendError;
    expect(err.kind).toBe('crashed');
    expect(err.message).toMatch(/was stopped by the gateway: it used \d+ MiB of memory \(RSS\), over its 150 MiB cap/);
    expect(processState(pid)).toBe('gone');
    expect(b.health).toBe('down');
  });

  it('measures RSS of a healthy child under the cap and leaves it alone', async () => {
    const b = fixture({ memoryLimitMb: 500, memoryPollMs: 50 });
    await b.ready();
    await waitFor(() => b.rssMb > 0);
    expect(b.rssMb).toBeLessThan(500);
    expect(b.health).toBe('up');
    trackPid(b);
  });

  it('kills a child that writes a line longer than the cap', async () => {
    const b = fixture({ maxLineBytes: 1024 * 1024 });
    await b.ready();
    const pid = trackPid(b);
    const err = (await call(b, 'long-line', { mb: 3 }).catch((e) => e)) as BackendError;
    expect(err.kind).toBe('crashed');
    expect(err.message).toMatch(/wrote a line longer than 1 MiB on stdout/);
    expect(processState(pid)).toBe('gone');
  });

  it('escalates to SIGKILL when the child ignores SIGTERM, and close() waits for the exit', async () => {
    const b = fixture({ eofGraceMs: 50, killGraceMs: 300 }, { FIXTURE_MODE: 'ignore-sigterm' });
    await b.ready();
    const pid = trackPid(b);
    // A call in flight keeps the process alive past stdin EOF (its timer is pending), and
    // SIGTERM is ignored: only SIGKILL ends it.
    const pending = call(b, 'sleep', { ms: 5000 }).catch((e: unknown) => e);
    await sleep(20);
    const started = Date.now();
    await b.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(processState(pid)).toBe('gone');
    const err = (await pending) as BackendError;
    expect(err.kind).toBe('unavailable');
    expect(err.message).toMatch(/backend was closed/);
    expect(b.health).toBe('down');
    await expect(call(b, 'echo', { message: 'x' })).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(b.ready()).rejects.toMatchObject({ message: /backend was closed/ });
  });

  it('takes the whole process group down on close (no grandchild left behind)', async () => {
    const b = fixture();
    const grandchild = Number(resultText(await call(b, 'grandchild')));
    const pid = trackPid(b);
    expect(processState(grandchild)).toBe('alive');
    await b.close();
    expect(processState(pid)).toBe('gone');
    await waitFor(() => processState(grandchild) !== 'alive');
  });

  it('drops notify() while the child is not running and sends it when up', async () => {
    const b = fixture();
    await expect(b.notify('notifications/roots/list_changed')).resolves.toBeUndefined();
    await b.ready();
    await expect(b.notify('notifications/roots/list_changed')).resolves.toBeUndefined();
    trackPid(b);
    await b.close();
    await expect(b.notify('notifications/roots/list_changed')).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('counts a call waiting for start-up as in flight and updates lastUsedAt', async () => {
    const b = fixture();
    const before = b.lastUsedAt;
    await sleep(5);
    const p = call(b, 'echo', { message: 'x' });
    expect(b.inFlight).toBe(1);
    await p;
    expect(b.inFlight).toBe(0);
    expect(b.lastUsedAt).toBeGreaterThan(before);
    trackPid(b);
  });
});

describe('StdioBackend performance (fixture echo server, the SDK McpServer)', () => {
  it('measures round-trip latency and throughput of tools/call echo', async () => {
    const b = fixture();
    await b.ready();
    for (let i = 0; i < 200; i++) await call(b, 'echo', { message: 'warm' });

    const samples: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = process.hrtime.bigint();
      await call(b, 'echo', { message: 'ping' });
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    samples.sort((x, y) => x - y);
    const median = samples[1000];
    const p99 = samples[1980];

    const total = 5000;
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < total) {
          next++;
          await call(b, 'echo', { message: 'load' });
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const rps = Math.round(total / seconds);
    console.log(
      `stdio echo: median ${median.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms over 2000 sequential calls; ${rps} calls/s with 10 concurrent callers`,
    );
    expect(median).toBeLessThan(20);
    expect(rps).toBeGreaterThan(200);
    trackPid(b);
  });
});
