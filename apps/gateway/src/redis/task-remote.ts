import { randomBytes } from 'node:crypto';
import { channels, type GatewayTaskRecord } from '@toolgate/contracts';
import type Redis from 'ioredis';
import type { TaskRemotePort } from '../core/ports';
import { type Backend, BackendError, type CallContext } from '../backends/types';
import { type JsonRpcError, type JsonRpcNotification, type JsonRpcRequest, RpcCode, RpcError } from '../core/jsonrpc';

type Kind = BackendError['kind'];
type Op = Pick<GatewayTaskRecord, 'backendKey' | 'backendInstance' | 'sessionId'> & {
  method: string;
  params: Record<string, unknown>;
  timeoutMs: number | undefined;
};

/** Worker-to-worker messages on channels.gatewayTasks; `to` is a workerId, `op` names one operation. */
type Msg =
  | { t: 'op'; to: string; from: string; op: string; call: Op }
  | { t: 'ack'; to: string; op: string }
  | { t: 'note'; to: string; op: string; n: JsonRpcNotification }
  | { t: 'ask'; to: string; from: string; op: string; ask: string; r: JsonRpcRequest }
  | { t: 'answer'; to: string; ask: string; result?: Record<string, unknown>; error?: JsonRpcError }
  | { t: 'done'; to: string; op: string; result?: Record<string, unknown>; error?: JsonRpcError; kind?: Kind }
  | { t: 'abort'; to: string; op: string };

interface Waiting {
  ctx: CallContext;
  resolve: (r: Record<string, unknown>) => void;
  reject: (e: BackendError) => void;
  timer: NodeJS.Timeout;
  method: string;
  timeoutMs: number;
  /** Removes the abort listener from the agent's signal. */
  off: () => void;
}

/** How long the holding worker has to take an operation before the task counts as unreachable. */
const ACK_MS = 2000;
/** As long as the gateway waits for an agent's answer to a server-to-client request. */
const ASK_TIMEOUT_MS = 120_000;
/** Beyond the backend's own timeout, which bounds the holding worker's answer. */
const SLACK_MS = 5000;

/**
 * A task lives in one backend instance on one worker, but the agent's next request may land on
 * any worker. The worker that got it sends the operation to the holding worker, which runs it on
 * that backend and sends back what the upstream says on the way (notifications, server-to-client
 * requests, whose answers travel back too) and the result. Policy, redaction and the agent's
 * channel stay with the worker that serves the agent; the holding worker only touches the backend.
 */
export class TaskRemote implements TaskRemotePort {
  private readonly waiting = new Map<string, Waiting>();
  private readonly running = new Map<string, AbortController>();
  private readonly asks = new Map<string, { resolve: (r: Record<string, unknown>) => void; reject: (e: BackendError) => void }>();

  constructor(
    private readonly redis: Redis,
    private readonly sub: Redis,
    private readonly workerId: string,
    /** The backend instance a task lives in, if this worker runs it. */
    private readonly local: (key: string, instance: string) => Backend | null,
  ) {}

  async start(): Promise<void> {
    const mine = channels.gatewayTasks(this.workerId);
    this.sub.on('message', (channel: string, raw: string) => {
      if (channel !== mine) return;
      let msg: Msg;
      try {
        msg = JSON.parse(raw) as Msg;
      } catch {
        return;
      }
      if (msg.to === this.workerId) this.receive(msg);
    });
    await this.sub.subscribe(mine);
  }

  /** Run `method` on the worker holding the task; ctx receives what the upstream says meanwhile. */
  call(rec: GatewayTaskRecord, method: string, params: Record<string, unknown>, ctx: CallContext & { timeoutMs: number }) {
    const op = randomBytes(9).toString('base64url');
    const { timeoutMs } = ctx;
    const call: Op = {
      backendKey: rec.backendKey,
      backendInstance: rec.backendInstance,
      sessionId: rec.sessionId,
      method,
      params,
      timeoutMs,
    };
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(op, 'The gateway worker holding this task is unreachable', 'unavailable'), ACK_MS);
      timer.unref();
      const onAbort = () => {
        this.send({ t: 'abort', to: rec.workerId, op });
        this.fail(op, 'The call was cancelled', 'unavailable');
      };
      ctx.signal?.addEventListener('abort', onAbort, { once: true });
      const off = () => ctx.signal?.removeEventListener('abort', onAbort);
      this.waiting.set(op, { ctx, resolve, reject, timer, method, timeoutMs, off });
      if (ctx.signal?.aborted) return onAbort();
      this.send({ t: 'op', to: rec.workerId, from: this.workerId, op, call });
    });
  }

  /** The holder took the op: it answers within the backend's own timeout, so wait that long and a little more. */
  private acked(op: string): void {
    const w = this.waiting.get(op);
    if (!w) return;
    clearTimeout(w.timer);
    w.timer = setTimeout(
      () => this.fail(op, `The gateway worker holding this task did not answer ${w.method}`, 'timeout'),
      w.timeoutMs + SLACK_MS,
    );
    w.timer.unref();
  }

  private fail(op: string, message: string, kind: Kind): void {
    const code = kind === 'timeout' ? RpcCode.UpstreamTimeout : RpcCode.UpstreamUnavailable;
    this.settle(op, { error: { code, message }, kind });
  }

  private receive(msg: Msg): void {
    switch (msg.t) {
      case 'op':
        void this.serve(msg.from, msg.op, msg.call);
        return;
      case 'ack':
        this.acked(msg.op);
        return;
      case 'note':
        this.waiting.get(msg.op)?.ctx.onNotification?.(msg.n);
        return;
      case 'ask':
        this.answer(msg.from, msg.op, msg.ask, msg.r);
        return;
      case 'answer': {
        const a = this.asks.get(msg.ask);
        if (msg.error) a?.reject(new BackendError(msg.error, 'upstream'));
        else a?.resolve(msg.result ?? {});
        return;
      }
      case 'done':
        this.settle(msg.op, msg);
        return;
      case 'abort':
        this.running.get(msg.op)?.abort();
        return;
    }
  }

  /** On the worker that serves the agent: an upstream request of the op, answered by the agent. */
  private answer(holder: string, op: string, ask: string, r: JsonRpcRequest): void {
    const hook = this.waiting.get(op)?.ctx.onServerRequest;
    const reply = (m: Omit<Extract<Msg, { t: 'answer' }>, 't' | 'to' | 'ask'>) => this.send({ t: 'answer', to: holder, ask, ...m });
    if (!hook) {
      reply({ error: { code: RpcCode.InternalError, message: 'no agent session is waiting for this request' } });
      return;
    }
    hook(r).then(
      (result) => reply({ result }),
      (e: unknown) => reply({ error: asJsonRpcError(e) }),
    );
  }

  /** On the worker holding the backend: run the op and report back. */
  private async serve(origin: string, op: string, call: Op): Promise<void> {
    this.send({ t: 'ack', to: origin, op });
    const backend = this.local(call.backendKey, call.backendInstance);
    if (!backend) {
      const message = 'Failed to retrieve task: Task not found (the server that ran it has restarted)';
      this.send({ t: 'done', to: origin, op, error: { code: RpcCode.InvalidParams, message }, kind: 'upstream' });
      return;
    }
    const controller = new AbortController();
    this.running.set(op, controller);
    const ctx: CallContext = {
      sessionId: call.sessionId,
      signal: controller.signal,
      timeoutMs: call.timeoutMs,
      onNotification: (n) => this.send({ t: 'note', to: origin, op, n }),
      onServerRequest: (r) => this.ask(origin, op, r),
    };
    try {
      const result = await backend.request(call.method, call.params, ctx);
      this.send({ t: 'done', to: origin, op, result });
    } catch (e) {
      this.send({ t: 'done', to: origin, op, error: asJsonRpcError(e), kind: e instanceof BackendError ? e.kind : 'unavailable' });
    } finally {
      this.running.delete(op);
    }
  }

  /** An upstream request of a running op, for the agent behind the worker that sent the op. */
  private ask(origin: string, op: string, r: JsonRpcRequest): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const ask = randomBytes(9).toString('base64url');
      // That worker may die: the upstream must not wait on the answer for ever.
      const timer = setTimeout(() => {
        this.asks.delete(ask);
        reject(new BackendError({ code: RpcCode.InternalError, message: 'The agent did not answer in time' }, 'timeout'));
      }, ASK_TIMEOUT_MS);
      timer.unref();
      const settle =
        <T>(then: (v: T) => void) =>
        (v: T) => {
          clearTimeout(timer);
          this.asks.delete(ask);
          then(v);
        };
      this.asks.set(ask, { resolve: settle(resolve), reject: settle(reject) });
      this.send({ t: 'ask', to: origin, from: this.workerId, op, ask, r });
    });
  }

  private settle(op: string, msg: { result?: Record<string, unknown>; error?: JsonRpcError; kind?: Kind }): void {
    const w = this.waiting.get(op);
    if (!w) return;
    clearTimeout(w.timer);
    w.off();
    this.waiting.delete(op);
    if (msg.error) w.reject(new BackendError(msg.error, msg.kind ?? 'upstream'));
    else w.resolve(msg.result ?? {});
  }

  private send(msg: Msg): void {
    this.redis.publish(channels.gatewayTasks(msg.to), JSON.stringify(msg)).catch(() => undefined);
  }

  close(): void {
    for (const c of this.running.values()) c.abort();
    for (const op of [...this.waiting.keys()]) {
      this.settle(op, { error: { code: RpcCode.UpstreamUnavailable, message: 'gateway shutting down' }, kind: 'unavailable' });
    }
  }
}

function asJsonRpcError(e: unknown): JsonRpcError {
  if (e instanceof BackendError) return e.error;
  if (e instanceof RpcError) return e.toJSON();
  return { code: RpcCode.InternalError, message: 'Internal gateway error' };
}
