import { basename } from 'node:path';
import type { SnapshotServer } from '@toolgate/contracts';
import { makeRedactor } from '@toolgate/policy';
import type { JsonRpcNotification } from '../core/jsonrpc';
import { RpcCode } from '../core/jsonrpc';
import type { Launcher } from './sandbox/launcher';
import { type BackendLogger, ChildConnection, type ChildConfig, MIB } from './stdio-child';
import { type Backend, BackendError, type BackendHealth, type BackendSpec, type CallContext, type InitializeInfo } from './types';
import { CallCancelledError } from './upstream/errors';
import type { ServerRequestHandler } from './upstream/peer';
import { initializeParams, parseInitializeResult } from './upstream/protocol';

/**
 * A stdio MCP server run as a child process: newline-delimited JSON-RPC on its stdin/stdout.
 * One child per backend (per org + server + config, and per agent key or session when the
 * server is isolated); the UpstreamPeer on top of it keeps concurrent calls apart.
 *
 * Lifecycle:
 * - Lazy start: the first ready()/request() spawns the child and runs initialize +
 *   notifications/initialized. Concurrent callers share that attempt.
 * - Crash: when the child exits, every pending call fails with BackendError kind 'crashed'
 *   whose message has the exit code or signal and the tail of its stderr; health becomes
 *   'down'. The next call restarts it, but not before a backoff delay (250 ms doubling up to
 *   30 s; the count resets once a child has run for 60 s). Calls inside the backoff window fail
 *   at once with UpstreamUnavailable and say when the next attempt is due.
 * - close(): stdin is ended (the MCP way to ask a stdio server to stop), then SIGTERM, then
 *   SIGKILL after a grace period, and close() resolves only once the child has exited.
 *
 * Process hygiene:
 * - The launcher starts the child: inside the bubblewrap sandbox (sandbox/README.md), or, only
 *   when the operator turned the sandbox off, as a plain child. No shell. The environment is the
 *   launcher's minimal base, then spec.env (secrets already opened by the caller).
 * - The child leads its own process group (detached), and every signal goes to the group, so
 *   wrappers such as `npx` do not leave the real server behind; in the sandbox its pid namespace
 *   ends every descendant with it, and bwrap dies with the gateway.
 * - stderr is for operators: it is kept masked (the injected secrets) and goes to the log and to
 *   probe errors, never into an error an agent sees.
 *
 * Memory cap (`memoryLimitMb`):
 * - For Node commands (node, nodejs, npx, npm, pnpm, pnpx, yarn, tsx, ts-node or this very
 *   executable) NODE_OPTIONS gets `--max-old-space-size=<MB>`, so V8 collects harder and fails
 *   with a clean "heap out of memory" before the watchdog has to act.
 * - For every command, a watchdog reads VmRSS from /proc/<pid>/status for the child and all its
 *   descendants every `memoryPollMs` (default 2 s) and SIGKILLs the group when the sum is over
 *   the cap; pending calls then fail with a message naming the cap. Between two polls a child
 *   can overshoot: the watchdog bounds a leak, it is not a hard limit (use cgroups for that).
 *   On systems without /proc the watchdog is off.
 *
 * Framing: stdout is split on '\n' (a trailing '\r' is dropped); a partial line waits for the
 * rest. A line longer than `maxLineBytes` (16 MiB) kills the child: the gateway will not buffer
 * without bound. Lines that are not JSON (a stray console.log) are kept in the stderr tail and
 * otherwise ignored. stderr is kept as a ring of its last `stderrTailBytes` (8 KiB).
 */

export type { BackendLogger } from './stdio-child';

export interface StdioBackendOptions {
  /** RSS cap for the child and its descendants, MiB. No cap when unset. */
  memoryLimitMb?: number;
  /** How often the memory watchdog looks (ms). Default 2000. */
  memoryPollMs?: number;
  /** Deadline for initialize (ms). Default 30 s. */
  initTimeoutMs?: number;
  /** Longest stdout line accepted (bytes). Default 16 MiB. */
  maxLineBytes?: number;
  /** How much of stderr is kept for error messages (bytes). Default 8 KiB. */
  stderrTailBytes?: number;
  /** close(): wait this long after ending stdin before SIGTERM (ms). Default 100. */
  eofGraceMs?: number;
  /** close(): wait this long after SIGTERM before SIGKILL (ms). Default 2000. */
  killGraceMs?: number;
  /** Restart backoff: first delay, ceiling, and how long a child must run for the count to reset (ms). */
  restartBackoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
  /** Starts the child (sandboxed or not): the gateway's one launcher. */
  launcher: Launcher;
  logger?: BackendLogger;
}

const NODE_COMMANDS = new Set(['node', 'nodejs', 'npx', 'npm', 'pnpm', 'pnpx', 'yarn', 'tsx', 'ts-node']);
const NO_LOGGER: BackendLogger = { info: () => undefined, warn: () => undefined };

export class StdioBackend implements Backend {
  readonly key: string;
  readonly server: SnapshotServer;
  private readonly childConfig: ChildConfig;
  private readonly initTimeoutMs: number;
  private readonly eofGraceMs: number;
  private readonly killGraceMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly backoffResetMs: number;
  private readonly logger: BackendLogger;
  private readonly listeners = new Set<(n: JsonRpcNotification) => void>();
  private outOfCall: ServerRequestHandler | null = null;

  private conn: ChildConnection | undefined;
  private info: InitializeInfo | undefined;
  private starting: Promise<InitializeInfo> | undefined;
  private _health: BackendHealth = 'starting';
  /** Consecutive failed or short-lived children (drives the backoff). */
  private failures = 0;
  private retryAt = 0;
  private lastFailure: BackendError | undefined;
  private upSince = 0;
  /** Calls waiting for the child to be ready (not yet in the peer). */
  private waiting = 0;
  /** The gateway's own initialize is in the peer (not an agent call: inFlight leaves it out). */
  private initializing = 0;
  private lastUsed = Date.now();
  private closed = false;
  private closing: Promise<void> | undefined;
  private _starts = 0;
  private lastTail = '';

  /** Throws BackendError kind 'unavailable' if the server has no command. */
  constructor(spec: BackendSpec, options: StdioBackendOptions) {
    const server = spec.server;
    if (!server.command) {
      throw new BackendError(
        { code: RpcCode.UpstreamUnavailable, message: `Server "${server.slug}" is a stdio server without a command` },
        'unavailable',
      );
    }
    this.key = spec.key;
    this.server = server;
    this.logger = options.logger ?? NO_LOGGER;
    this.initTimeoutMs = options.initTimeoutMs ?? 30_000;
    this.eofGraceMs = options.eofGraceMs ?? 100;
    this.killGraceMs = options.killGraceMs ?? 2000;
    this.backoffInitialMs = options.restartBackoff?.initialMs ?? 250;
    this.backoffMaxMs = options.restartBackoff?.maxMs ?? 30_000;
    this.backoffResetMs = options.restartBackoff?.resetAfterMs ?? 60_000;
    this.childConfig = {
      command: server.command,
      args: server.args,
      env: childEnv(spec.env, server.command, options.memoryLimitMb),
      orgId: spec.orgId,
      network: server.network,
      launcher: options.launcher,
      mask: makeRedactor(spec.secrets, []),
      label: `MCP server "${server.slug}"`,
      defaultTimeoutMs: server.timeoutMs,
      maxLineBytes: options.maxLineBytes ?? 16 * MIB,
      stderrTailBytes: options.stderrTailBytes ?? 8192,
      memoryLimitMb: options.memoryLimitMb,
      memoryPollMs: options.memoryPollMs ?? 2000,
      logger: this.logger,
    };
  }

  get health(): BackendHealth {
    return this.closed ? 'down' : this._health;
  }

  get inFlight(): number {
    const conn = this.conn;
    return this.waiting + (conn === undefined ? 0 : conn.peer.inFlight - this.initializing);
  }

  get lastUsedAt(): number {
    return Math.max(this.conn?.peer.lastUsedAt ?? 0, this.lastUsed);
  }

  /** The running child's pid, if any. */
  get pid(): number | undefined {
    return this.conn?.pid;
  }

  /** How many children have been spawned (1 + restarts). */
  get starts(): number {
    return this._starts;
  }

  /** Last RSS the watchdog measured for the running child's process tree, MiB (0 before the first poll). */
  get rssMb(): number {
    return this.conn ? Math.round(this.conn.lastRssKb / 1024) : 0;
  }

  /** The child's recent stderr (for operators' logs; may hold anything the server printed). */
  stderrTail(): string {
    return this.conn ? this.conn.stderrTail() : this.lastTail;
  }

  ready(): Promise<InitializeInfo> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this._health === 'up' && this.info !== undefined) return Promise.resolve(this.info);
    if (this.starting) return this.starting;
    const now = Date.now();
    if (now < this.retryAt) return Promise.reject(this.backoffError(now));
    const attempt = this.start();
    this.starting = attempt;
    const clear = () => {
      if (this.starting === attempt) this.starting = undefined;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  async request(method: string, params: Record<string, unknown> | undefined, ctx: CallContext): Promise<Record<string, unknown>> {
    let conn = this.conn;
    if (this._health !== 'up' || conn === undefined) conn = await this.connectFor(ctx);
    return conn.peer.request(method, params, ctx);
  }

  /**
   * Sends when the child is up. A notification for a child that is not running is dropped:
   * a fresh child learns everything again through initialize.
   */
  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    if (this.closed) throw this.closedError();
    const conn = this.conn;
    if (this._health === 'up' && conn !== undefined) await conn.peer.notify(method, params);
  }

  onUnsolicited(listener: (n: JsonRpcNotification) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Out-of-call requests (roots/list while no call is in flight) go to the agent session owning this backend. */
  onOutOfCallRequest(handler: ServerRequestHandler): void {
    this.outOfCall = handler;
    this.conn?.peer.onOutOfCallRequest(handler);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // ---- internals --------------------------------------------------------------------------

  private async shutdown(): Promise<void> {
    this.closed = true;
    this._health = 'down';
    const conn = this.conn;
    if (conn) {
      conn.peer.close(this.closedError());
      await conn.terminate(this.eofGraceMs, this.killGraceMs);
    }
    this.listeners.clear();
  }

  /** Wait for the child to be ready on behalf of one call, honouring its abort signal. */
  private async connectFor(ctx: CallContext): Promise<ChildConnection> {
    this.waiting++;
    this.lastUsed = Date.now();
    try {
      const ready = this.ready();
      if (ctx.signal) await raceAbort(ready, ctx.signal);
      else await ready;
    } finally {
      this.waiting--;
      this.lastUsed = Date.now();
    }
    const conn = this.conn;
    if (conn === undefined || this._health !== 'up') throw this.lastFailure ?? this.closedError();
    return conn;
  }

  private async start(): Promise<InitializeInfo> {
    this._health = 'starting';
    this._starts++;
    const conn = new ChildConnection(
      this.childConfig,
      (n) => this.dispatchUnsolicited(n),
      this.outOfCall,
      (c, error) => this.onChildEnd(c, error),
    );
    this.conn = conn;
    try {
      // A launch that failed outright (no sandbox, a NUL byte) ends on the next microtask: report
      // that reason, not the failed write of initialize.
      await Promise.resolve();
      if (conn.done) throw conn.peer.failed ?? this.closedError();
      this.initializing = 1;
      const result = await conn.peer
        .request('initialize', initializeParams(), { sessionId: '', timeoutMs: this.initTimeoutMs })
        .finally(() => {
          this.initializing = 0;
        });
      const info = parseInitializeResult(result, this.childConfig.label, this.server.slug);
      await conn.peer.notify('notifications/initialized');
      if (this.closed) throw this.closedError();
      if (conn.done) throw conn.peer.failed ?? this.closedError();
      this.info = info;
      this._health = 'up';
      this.upSince = Date.now();
      this.logger.info('stdio backend up', {
        event: this._starts > 1 ? 'restart' : 'start',
        sandbox: this.childConfig.launcher.status.mode,
        network: this.childConfig.network,
        key: this.key,
        server: this.server.slug,
        pid: conn.pid,
        protocolVersion: info.protocolVersion,
      });
      return info;
    } catch (e) {
      const error =
        e instanceof BackendError
          ? e
          : new BackendError(
              { code: RpcCode.UpstreamUnavailable, message: `${this.childConfig.label} failed to initialize: ${String(e)}` },
              'unavailable',
            );
      // A child that failed initialize but still runs is of no use: stop it, and let its end
      // be recorded (backoff) before the callers hear about the failure.
      if (!conn.done) {
        conn.markFatal(`failed to initialize (${error.message})`);
        conn.peer.close(error);
        await conn.terminate(0, this.killGraceMs);
      }
      throw error;
    }
  }

  private onChildEnd(conn: ChildConnection, error: BackendError): void {
    if (conn !== this.conn) return;
    const peerUsed = conn.peer.lastUsedAt;
    if (peerUsed > this.lastUsed) this.lastUsed = peerUsed;
    this.lastTail = conn.stderrTail();
    this.conn = undefined;
    this.info = undefined;
    this._health = 'down';
    if (this.closed) return;
    const now = Date.now();
    if (this.upSince !== 0 && now - this.upSince >= this.backoffResetMs) this.failures = 0;
    this.failures++;
    const delay = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(this.failures - 1, 30));
    this.retryAt = now + delay;
    this.upSince = 0;
    this.lastFailure = error;
    this.logger.warn('stdio backend down', {
      event: lifecycleEvent(error),
      key: this.key,
      server: this.server.slug,
      // An initialize failure quotes the server: masked like its stderr.
      reason: this.childConfig.mask(error.message),
      exit: error.error.data,
      stderrTail: error.operator.stderrTail,
      retryInMs: delay,
    });
  }

  private dispatchUnsolicited(n: JsonRpcNotification): void {
    for (const listener of this.listeners) {
      try {
        listener(n);
      } catch (e) {
        this.logger.warn('unsolicited listener threw', { key: this.key, error: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  private backoffError(now: number): BackendError {
    const waitMs = this.retryAt - now;
    const last = this.lastFailure ? ` (last failure: ${this.lastFailure.message})` : '';
    return new BackendError(
      {
        code: RpcCode.UpstreamUnavailable,
        message: `${this.childConfig.label} is down${last}; the next restart attempt is in ${formatMs(waitMs)}`,
        data: { retryAt: new Date(this.retryAt).toISOString(), retryAfterMs: waitMs },
      },
      'unavailable',
    );
  }

  private closedError(): BackendError {
    return new BackendError({ code: RpcCode.UpstreamUnavailable, message: `${this.childConfig.label} backend was closed` }, 'unavailable');
  }
}

/** The server's own environment (the launcher puts its minimal base under it), with the heap cap for Node. */
function childEnv(specEnv: Record<string, string>, command: string, memoryLimitMb: number | undefined): Record<string, string> {
  const env: Record<string, string> = { ...specEnv };
  if (memoryLimitMb !== undefined && isNodeCommand(command)) {
    const flag = `--max-old-space-size=${Math.max(16, Math.floor(memoryLimitMb))}`;
    env.NODE_OPTIONS = env.NODE_OPTIONS ? `${env.NODE_OPTIONS} ${flag}` : flag;
  }
  return env;
}

/** What kind of end a child's error describes, for the lifecycle log and metric. */
function lifecycleEvent(error: BackendError): 'exit' | 'crash' | 'limit' | 'sandbox_failure' {
  const m = error.message;
  const data = (error.error.data ?? {}) as { exitCode?: unknown; signal?: unknown };
  if (/could not be (sandboxed|started)/.test(m)) return 'sandbox_failure';
  if (/over its .* cap|line longer than/.test(m)) return 'limit';
  if (data.signal === 'SIGXCPU' || data.signal === 'SIGXFSZ') return 'limit';
  const code = data.exitCode;
  if (typeof code === 'number' && code > 128 && [24 + 128, 25 + 128].includes(code)) return 'limit';
  if (/out of memory|allocation failed|MemoryError/i.test(error.operator.stderrTail ?? '')) return 'limit';
  return code === 0 ? 'exit' : 'crash';
}

function isNodeCommand(command: string): boolean {
  if (command === process.execPath) return true;
  const name = basename(command).replace(/\.(exe|cmd)$/i, '');
  return NODE_COMMANDS.has(name);
}

/** Resolve with the promise, or reject with CallCancelledError when the signal aborts first. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(new CallCancelledError('The call was cancelled while the server was starting'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CallCancelledError('The call was cancelled while the server was starting'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.max(0, Math.round(ms))} ms` : `${(ms / 1000).toFixed(1)} s`;
}
