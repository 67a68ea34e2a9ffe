import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { RpcCode } from '@toolgate/gateway/src/core/jsonrpc';
import type { Logger } from '@toolgate/gateway/src/log';
import { RemoteConnectionLost, RemoteUnreachable, remoteFetch } from './remote-fetch';

export interface RemoteSessionOptions {
  endpoint: URL;
  key: string;
  log: Logger;
  /** How long a message waits for an unreachable remote to come back before it fails (ms). */
  reconnectWindowMs?: number;
  /** How long a request whose stream broke may wait for its resumed answer (ms). */
  resumeWindowMs?: number;
  /** How often the SDK retries a broken event stream (Last-Event-ID) before giving up. */
  streamRetries?: number;
}

/** A host request on its way: answered by the remote, or failed by the relay, exactly once. */
interface Pending {
  generation: number;
  /** Being sent (or sent again after a re-initialize) by its own delivery loop. */
  sending: boolean;
  /** The last event id of its answer's stream: the SDK resumes from it when the stream breaks. */
  lastEventId?: string;
  timer?: NodeJS.Timeout;
}

/** A request whose answer cannot come: the host gets this error instead of waiting forever. */
class Undeliverable extends Error {
  constructor(
    message: string,
    readonly code: number = RpcCode.UpstreamUnavailable,
  ) {
    super(message);
  }
}

const REINITIALIZE_ID = 'toolgate-connect/reinitialize';

/**
 * One MCP session with a remote Toolgate endpoint, kept alive for a host on the other side:
 * every message goes through the SDK's Streamable HTTP transport (sessions, event streams,
 * resumption with Last-Event-ID), and this class adds what a long-lived bridge needs on top.
 * A remote that is briefly unreachable is waited for; a session the remote no longer knows (404:
 * it restarted, or the session expired) is replaced by a new one initialized with the host's
 * own initialize request, invisibly to the host; a request whose answer can no longer come gets
 * a JSON-RPC error instead of a hang.
 */
export class RemoteSession {
  /** Every message for the host (answers, notifications, server-to-client requests). */
  onmessage: (message: JSONRPCMessage) => void = () => undefined;

  private transport: StreamableHTTPClientTransport;
  private generation = 0;
  private readonly pending = new Map<RequestId, Pending>();
  private initializeRequest?: JSONRPCRequest;
  private hostInitialized = false;
  private reinit?: Promise<void>;
  private needsInit = false;
  private reinitAnswer?: (message: JSONRPCMessage) => void;
  /** The host's initialize on its way: what follows it needs the session id its answer brings. */
  private initializing?: Promise<void>;
  private closed = false;
  /** One line per outage in the log, not one per retry. */
  private unreachableReported = false;
  private readonly reconnectWindowMs: number;
  private readonly resumeWindowMs: number;

  constructor(private readonly opts: RemoteSessionOptions) {
    this.reconnectWindowMs = opts.reconnectWindowMs ?? 10_000;
    this.resumeWindowMs = opts.resumeWindowMs ?? 60_000;
    this.transport = this.newTransport();
  }

  start(): Promise<void> {
    return this.transport.start();
  }

  /** A message from the host. Never rejects: a request that fails is answered with an error. */
  async forward(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return;
    if (isJSONRPCRequest(message)) {
      if (message.method === 'initialize') this.initializeRequest = message;
      this.pending.set(message.id, { generation: this.generation, sending: true });
    } else if (isJSONRPCNotification(message)) {
      if (message.method === 'notifications/initialized') this.hostInitialized = true;
      // A cancelled request gets no answer: the host expects none.
      if (message.method === 'notifications/cancelled') this.settle((message.params as { requestId?: RequestId })?.requestId);
    }
    try {
      if (isJSONRPCRequest(message) && message.method === 'initialize') {
        this.initializing = this.deliver(message);
        await this.initializing;
      } else {
        await this.initializing?.catch(() => undefined);
        await this.deliver(message);
      }
    } catch (e) {
      if (!isJSONRPCRequest(message)) {
        this.opts.log.warn(`connect: a ${describe(message)} was not delivered: ${(e as Error).message}`);
        return;
      }
      const code =
        e instanceof Undeliverable
          ? e.code
          : e instanceof RemoteUnreachable || e instanceof RemoteConnectionLost
            ? RpcCode.UpstreamUnavailable
            : RpcCode.InternalError;
      this.fail(message.id, code, (e as Error).message);
    } finally {
      const p = isJSONRPCRequest(message) ? this.pending.get(message.id) : undefined;
      if (p) p.sending = false;
    }
  }

  /** Ends the session at the remote (DELETE), waiting at most `ms` for it. */
  async close(ms = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    const deadline = new Promise((r) => setTimeout(r, ms).unref());
    // A session still being initialized is ended too, not left behind at the remote.
    const end = async () => {
      await this.initializing?.catch(() => undefined);
      await this.transport.terminateSession().catch(() => undefined);
    };
    await Promise.race([end(), deadline]);
    await this.transport.close();
  }

  private newTransport(): StreamableHTTPClientTransport {
    const generation = this.generation;
    const t = new StreamableHTTPClientTransport(this.opts.endpoint, {
      requestInit: { headers: { Authorization: `Bearer ${this.opts.key}` } },
      fetch: remoteFetch({
        onAuthFailure: (status, message) =>
          this.opts.log.error(`connect: the remote refused the key (HTTP ${status}: ${message}); check the key the command was given`),
        onSessionGone: (sessionId) => {
          if (sessionId === t.sessionId && generation === this.generation) void this.reinitialize(generation).catch(() => undefined);
        },
        onRequestStreamEnd: (id) => this.streamEnded(id, generation),
      }),
      reconnectionOptions: {
        initialReconnectionDelay: 500,
        reconnectionDelayGrowFactor: 1.5,
        maxReconnectionDelay: 5000,
        maxRetries: this.opts.streamRetries ?? 5,
      },
    });
    t.onmessage = (message) => {
      if (generation === this.generation) this.fromRemote(message);
    };
    t.onerror = (err) => {
      if (generation !== this.generation || this.closed) return;
      // The SDK gave up resuming a broken stream: the answers it carried cannot come any more.
      if (/Maximum reconnection attempts/.test(err.message))
        this.failResuming('the connection to the remote broke and could not be resumed');
      else if (/unreachable/.test(err.message)) this.reportUnreachable(err.message);
      else if (!(err instanceof StreamableHTTPError && err.code === 404)) this.opts.log.warn(`connect: ${err.message}`);
    };
    return t;
  }

  private fromRemote(message: JSONRPCMessage): void {
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      if (message.id === REINITIALIZE_ID) {
        this.reinitAnswer?.(message);
        return;
      }
      // An answer to a request already failed (or cancelled) would be the host's second one.
      if (message.id === undefined || !this.settle(message.id)) return;
      if (isJSONRPCResultResponse(message) && message.id === this.initializeRequest?.id) this.setVersion(message);
    }
    this.onmessage(message);
  }

  private async deliver(message: JSONRPCMessage): Promise<void> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (this.needsInit && !(isJSONRPCRequest(message) && message.method === 'initialize')) await this.reinitialize(this.generation);
      else await this.reinit;
      const t = this.transport;
      const generation = this.generation;
      const p = isJSONRPCRequest(message) ? this.pending.get(message.id) : undefined;
      if (p) p.generation = generation;
      const hadSession = t.sessionId !== undefined;
      try {
        await t.send(message, p ? { onresumptiontoken: (token) => (p.lastEventId = token) } : undefined);
        this.unreachableReported = false;
        return;
      } catch (e) {
        if (this.closed) return;
        if (hadSession && e instanceof StreamableHTTPError && e.code === 404) {
          await this.reinitialize(generation);
          // An answer or notification meant for the ended session means nothing to the new one.
          if (!isJSONRPCRequest(message)) return;
          continue;
        }
        if (e instanceof RemoteUnreachable && Date.now() - started < this.reconnectWindowMs) {
          await sleep(Math.min(200 * 2 ** attempt, 2000));
          continue;
        }
        throw e;
      }
    }
  }

  /** Replaces a session the remote no longer knows, once however many messages found out. */
  private reinitialize(failedGeneration: number): Promise<void> {
    if (this.reinit) return this.reinit;
    if (failedGeneration !== this.generation && !this.needsInit) return Promise.resolve();
    this.reinit = this.startNewSession().finally(() => {
      this.reinit = undefined;
    });
    return this.reinit;
  }

  private async startNewSession(): Promise<void> {
    const old = this.transport;
    this.generation++;
    this.needsInit = true;
    this.failStale('the remote session ended (the remote restarted or expired it) before this request was answered');
    void old.close();
    this.transport = this.newTransport();
    await this.transport.start();
    if (!this.initializeRequest) throw new Undeliverable('the remote session ended before the host initialized it');
    const answer = new Promise<JSONRPCMessage>((resolve, reject) => {
      this.reinitAnswer = resolve;
      setTimeout(() => reject(new Undeliverable('the remote did not answer the new initialize')), 30_000).unref();
    });
    await this.sendReachable({ ...this.initializeRequest, id: REINITIALIZE_ID });
    const result = await answer;
    if (isJSONRPCErrorResponse(result)) {
      // The remote's own reason (a revoked key: its 401 code) reaches the host.
      throw new Undeliverable(`the remote refused a new session: ${result.error.message}`, result.error.code);
    }
    this.setVersion(result);
    if (this.hostInitialized) await this.sendReachable({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.needsInit = false;
    this.opts.log.warn('connect: the remote session had ended; started a new one with the host’s initialize');
  }

  private async sendReachable(message: JSONRPCMessage): Promise<void> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.transport.send(message);
      } catch (e) {
        if (!(e instanceof RemoteUnreachable) || Date.now() - started >= this.reconnectWindowMs) throw e;
        await sleep(Math.min(200 * 2 ** attempt, 2000));
      }
    }
  }

  private setVersion(initializeResult: JSONRPCMessage): void {
    const version = (initializeResult as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
    // Later requests carry the negotiated version, as the SDK's own client does.
    if (typeof version === 'string') this.transport.setProtocolVersion(version);
  }

  /** A request's answer stream ended: the SDK resumes it from its last event id, if it has one. */
  private streamEnded(id: RequestId, generation: number): void {
    const p = this.pending.get(id);
    if (!p || p.generation !== generation || p.timer) return;
    // The answer may still be in the SDK's parser: give it a moment before deciding.
    const wait = p.lastEventId === undefined ? 1000 : this.resumeWindowMs;
    p.timer = setTimeout(() => {
      if (this.pending.get(id) === p)
        this.fail(id, RpcCode.UpstreamUnavailable, 'the connection to the remote broke before the answer came');
    }, wait);
    p.timer.unref();
  }

  private reportUnreachable(message: string): void {
    if (this.unreachableReported) return;
    this.unreachableReported = true;
    this.opts.log.warn(`connect: ${message.replace(/^Failed to reconnect SSE stream: /, '')}; retrying`);
  }

  private failResuming(reason: string): void {
    for (const [id, p] of this.pending) if (p.timer) this.fail(id, RpcCode.UpstreamUnavailable, reason);
  }

  private failStale(reason: string): void {
    for (const [id, p] of this.pending)
      if (!p.sending && p.generation < this.generation) this.fail(id, RpcCode.UpstreamUnavailable, reason);
  }

  /** Forgets a pending request; false when it was not pending (already answered or failed). */
  private settle(id: RequestId | undefined): boolean {
    if (id === undefined) return false;
    const p = this.pending.get(id);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pending.delete(id);
    return true;
  }

  private fail(id: RequestId, code: number, message: string): void {
    if (!this.settle(id)) return;
    this.onmessage({ jsonrpc: '2.0', id, error: { code, message: `toolgate connect: ${message}` } });
  }
}

function describe(message: JSONRPCMessage): string {
  return 'method' in message ? message.method : 'response';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
