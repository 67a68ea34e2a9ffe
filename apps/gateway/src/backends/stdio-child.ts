import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { SnapshotServer } from '@toolgate/contracts';
import type { Redactor } from '@toolgate/policy';
import type { JsonRpcMessage, JsonRpcNotification } from '../core/jsonrpc';
import { RpcCode } from '../core/jsonrpc';
import type { Launched, Launcher } from './sandbox/launcher';
import { BackendError } from './types';
import { type ServerRequestHandler, UpstreamPeer } from './upstream/peer';

/**
 * The process half of the stdio backend: one child (started by the launcher), newline-delimited
 * JSON-RPC over its pipes, its stderr ring, its end (exit, kill, failed start) and the memory
 * watchdog. `stdio.ts` owns the lifecycle across children (start, restart, backoff, close).
 */

export const MIB = 1024 * 1024;

export interface BackendLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** After exit, how long to wait for the rest of stdout (responses written just before exiting). */
const STDOUT_DRAIN_MS = 250;
/** A child that closes stdout but does not exit within this is killed (ms). */
const STDOUT_CLOSED_GRACE_MS = 1000;
/** How much of the stderr tail an error carries for operators (the rest stays in stderrTail()). */
const MESSAGE_TAIL_CHARS = 1000;

export interface ChildConfig {
  command: string;
  args: string[];
  env: Record<string, string>;
  orgId: string;
  network: SnapshotServer['network'];
  launcher: Launcher;
  /** Masks the injected secrets in what the child prints. */
  mask: Redactor;
  label: string;
  defaultTimeoutMs: number;
  maxLineBytes: number;
  stderrTailBytes: number;
  memoryLimitMb: number | undefined;
  memoryPollMs: number;
  logger: BackendLogger;
}

/**
 * One child process and the JSON-RPC connection over its pipes. Ends exactly once (exit,
 * failed spawn), then reports to the backend through `onEnd` and resolves `exited`.
 */
export class ChildConnection {
  readonly peer: UpstreamPeer;
  readonly exited: Promise<void>;
  lastRssKb = 0;
  private readonly proc: ChildProcess | undefined;
  private launched: Launched | undefined;
  private readonly stderr: TailRing;
  private resolveExited!: () => void;
  private ended = false;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private stdoutEnded = false;
  private drainTimer: NodeJS.Timeout | undefined;
  private stdoutEndTimer: NodeJS.Timeout | undefined;
  private memoryTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private fatal: string | undefined;
  /** Bytes of an unfinished stdout line, waiting for its '\n'. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  private discarding = false;
  private warnedNotJson = false;

  constructor(
    private readonly cfg: ChildConfig,
    onUnsolicited: (n: JsonRpcNotification) => void,
    outOfCall: ServerRequestHandler | null,
    private readonly onEnd: (conn: ChildConnection, error: BackendError) => void,
  ) {
    this.stderr = new TailRing(cfg.stderrTailBytes);
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
    this.peer = new UpstreamPeer({
      attribution: 'in-flight',
      send: (m) => this.write(m),
      defaultTimeoutMs: cfg.defaultTimeoutMs,
      label: cfg.label,
      onProtocolError: (message) => cfg.logger.warn('stdio protocol error', { server: cfg.label, message }),
    });
    this.peer.onUnsolicited(onUnsolicited);
    this.peer.onOutOfCallRequest(outOfCall);

    let launched: Launched;
    try {
      launched = cfg.launcher.launch({ command: cfg.command, args: cfg.args, env: cfg.env, orgId: cfg.orgId, network: cfg.network });
    } catch (e) {
      // Synchronous failures (no sandbox, a NUL byte in an argument): end on the next tick, like async ones.
      this.proc = undefined;
      queueMicrotask(() => this.end(`could not be started: ${e instanceof Error ? e.message : String(e)}`, 'unavailable'));
      return;
    }
    const proc = launched.proc;
    this.proc = proc;
    this.launched = launched;
    launched.ready.catch((e: unknown) => {
      this.markFatal(`could not be sandboxed (${e instanceof Error ? e.message : String(e)})`);
      this.signal('SIGKILL');
    });
    proc.on('error', (e: NodeJS.ErrnoException) => {
      if (proc.pid === undefined) this.end(`could not be started: ${describeSpawnError(e, cfg.command)}`, 'unavailable');
      else cfg.logger.warn('stdio child error', { server: cfg.label, error: e.message });
    });
    proc.on('exit', (code, signal) => this.onExit(code, signal));
    proc.stdin!.on('error', () => undefined); // EPIPE after the child died: the exit handler reports.
    proc.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk));
    proc.stdout!.on('end', () => this.onStdoutEnd());
    proc.stdout!.on('error', () => undefined);
    proc.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    proc.stderr!.on('error', () => undefined);
    if (cfg.memoryLimitMb !== undefined && proc.pid !== undefined && process.platform === 'linux') {
      this.memoryTimer = setInterval(() => void this.checkMemory(), cfg.memoryPollMs);
      this.memoryTimer.unref();
    }
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The connection has ended (child gone, pending calls failed). */
  get done(): boolean {
    return this.ended;
  }

  /** What the child printed last, with the injected secrets masked (operators' view). */
  stderrTail(): string {
    return this.cfg.mask(this.stderr.text());
  }

  /** Record why the gateway is about to kill the child (used in the crash message). */
  markFatal(reason: string): void {
    this.fatal ??= reason;
  }

  /** Stop the child: end stdin, SIGTERM after eofGraceMs, SIGKILL after killGraceMs more. */
  async terminate(eofGraceMs: number, killGraceMs: number): Promise<void> {
    if (this.ended) return;
    this.proc?.stdin?.end();
    if (await this.waitEnded(eofGraceMs)) return;
    this.signal('SIGTERM');
    if (await this.waitEnded(killGraceMs)) return;
    this.signal('SIGKILL');
    await this.exited;
  }

  private write(message: JsonRpcMessage): void {
    const stdin = this.proc?.stdin;
    if (this.ended || this.exitInfo !== undefined || !stdin || !stdin.writable) throw new Error('the process is not running');
    // Node queues what the pipe cannot take yet; a stdio server reads as it goes.
    stdin.write(JSON.stringify(message) + '\n');
  }

  private onStdout(chunk: Buffer): void {
    if (this.discarding) return;
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl !== -1) {
      if (this.partBytes + (nl - start) > this.cfg.maxLineBytes) {
        this.tooLong();
        return;
      }
      if (this.partBytes > 0) {
        this.parts.push(chunk.subarray(start, nl));
        const line = Buffer.concat(this.parts, this.partBytes + (nl - start));
        this.parts = [];
        this.partBytes = 0;
        this.onLine(line.toString('utf8'));
      } else if (nl > start) {
        this.onLine(chunk.toString('utf8', start, nl));
      }
      if (this.discarding) return;
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      this.partBytes += chunk.length - start;
      if (this.partBytes > this.cfg.maxLineBytes) {
        this.tooLong();
        return;
      }
      this.parts.push(start === 0 ? chunk : chunk.subarray(start));
    }
  }

  private onLine(raw: string): void {
    const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (line.trim().length === 0) return;
      // A server that prints to stdout breaks the protocol; keep it visible, do not die of it.
      this.stderr.push(Buffer.from(`[stdout, not JSON-RPC] ${line.slice(0, 500)}\n`));
      if (!this.warnedNotJson) {
        this.warnedNotJson = true;
        this.cfg.logger.warn('stdio server wrote a non-JSON line on stdout', { server: this.cfg.label });
      }
      return;
    }
    if (Array.isArray(parsed)) for (const m of parsed) this.peer.handleMessage(m as JsonRpcMessage);
    else this.peer.handleMessage(parsed as JsonRpcMessage);
  }

  private tooLong(): void {
    this.discarding = true;
    this.parts = [];
    this.partBytes = 0;
    this.markFatal(`wrote a line longer than ${formatBytes(this.cfg.maxLineBytes)} on stdout`);
    this.cfg.logger.warn('stdio server line too long, killing it', { server: this.cfg.label, maxLineBytes: this.cfg.maxLineBytes });
    this.signal('SIGKILL');
  }

  private onStdoutEnd(): void {
    this.stdoutEnded = true;
    if (this.exitInfo !== undefined) {
      this.finishExit();
      return;
    }
    // Usually the child is exiting and its 'exit' event is on its way. If it is not, a server
    // without stdout cannot answer anything: treat it as dead.
    this.stdoutEndTimer = setTimeout(() => {
      if (this.exitInfo !== undefined) return;
      this.markFatal('closed its stdout');
      this.signal('SIGKILL');
    }, STDOUT_CLOSED_GRACE_MS);
    this.stdoutEndTimer.unref();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exitInfo = { code, signal };
    if (this.memoryTimer) clearInterval(this.memoryTimer);
    if (this.stdoutEndTimer) clearTimeout(this.stdoutEndTimer);
    // Sweep what is left of the process group (grandchildren of a wrapper such as npx).
    const pid = this.proc?.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing left.
      }
    }
    // Responses written just before exiting may still sit in the pipe: read them first.
    if (this.stdoutEnded) this.finishExit();
    else {
      this.drainTimer = setTimeout(() => this.finishExit(), STDOUT_DRAIN_MS);
      this.drainTimer.unref();
    }
  }

  private finishExit(): void {
    if (this.ended || this.exitInfo === undefined) return;
    const { code, signal } = this.exitInfo;
    const how = this.fatal
      ? `was stopped by the gateway: it ${this.fatal}`
      : code !== null
        ? `exited with code ${code}`
        : `was killed by ${signal ?? 'a signal'}`;
    this.end(how, 'crashed', { exitCode: code, signal });
  }

  /** The one place a connection ends: fail the peer, stop timers, tell the backend. */
  private end(how: string, kind: 'crashed' | 'unavailable', data?: Record<string, unknown>): void {
    if (this.ended) return;
    this.ended = true;
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.stdoutEndTimer) clearTimeout(this.stdoutEndTimer);
    if (this.memoryTimer) clearInterval(this.memoryTimer);
    this.parts = [];
    this.launched?.dispose();
    // Masked before it is cut, so a cut cannot leave a fragment no secret form matches.
    const tail = this.stderrTail().trim();
    const error = new BackendError({ code: RpcCode.UpstreamUnavailable, message: `${this.cfg.label} ${how}`, data }, kind, {
      stderrTail: tail.length > MESSAGE_TAIL_CHARS ? `…${tail.slice(-MESSAGE_TAIL_CHARS)}` : tail,
    });
    this.peer.close(error);
    this.onEnd(this, error);
    this.resolveExited();
  }

  private async checkMemory(): Promise<void> {
    const pid = this.proc?.pid;
    if (this.polling || this.ended || this.exitInfo !== undefined || pid === undefined) return;
    this.polling = true;
    try {
      const kb = await treeRssKb(pid);
      this.lastRssKb = kb;
      const limitKb = this.cfg.memoryLimitMb! * 1024;
      if (kb > limitKb && !this.ended && this.exitInfo === undefined) {
        this.markFatal(`used ${Math.round(kb / 1024)} MiB of memory (RSS), over its ${this.cfg.memoryLimitMb} MiB cap`);
        this.cfg.logger.warn('stdio server over its memory cap, killing it', {
          server: this.cfg.label,
          rssMb: Math.round(kb / 1024),
          limitMb: this.cfg.memoryLimitMb,
        });
        this.signal('SIGKILL');
      }
    } finally {
      this.polling = false;
    }
  }

  private signal(sig: NodeJS.Signals): void {
    const proc = this.proc;
    if (!proc || proc.pid === undefined || this.exitInfo !== undefined) return;
    try {
      process.kill(-proc.pid, sig);
    } catch {
      proc.kill(sig);
    }
  }

  private waitEnded(ms: number): Promise<boolean> {
    if (this.ended) return Promise.resolve(true);
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/** The last N bytes written to it (stderr of a child), overwriting the oldest. */
class TailRing {
  private readonly buf: Buffer;
  private pos = 0;
  private full = false;

  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }

  push(chunk: Buffer): void {
    const size = this.buf.length;
    if (size === 0) return;
    if (chunk.length >= size) {
      chunk.copy(this.buf, 0, chunk.length - size);
      this.pos = 0;
      this.full = true;
      return;
    }
    const first = Math.min(chunk.length, size - this.pos);
    chunk.copy(this.buf, this.pos, 0, first);
    if (first < chunk.length) {
      chunk.copy(this.buf, 0, first);
      this.pos = chunk.length - first;
      this.full = true;
    } else {
      this.pos += first;
      if (this.pos === size) {
        this.pos = 0;
        this.full = true;
      }
    }
  }

  text(): string {
    if (!this.full) return this.buf.toString('utf8', 0, this.pos);
    const s = Buffer.concat([this.buf.subarray(this.pos), this.buf.subarray(0, this.pos)]).toString('utf8');
    // The oldest line was cut: start at the next full one when there is one.
    const nl = s.indexOf('\n');
    return nl !== -1 && nl < s.length - 1 ? s.slice(nl + 1) : s;
  }
}

/** Sum of VmRSS over a process and its descendants (kB), from /proc. */
async function treeRssKb(rootPid: number): Promise<number> {
  let total = 0;
  const stack = [rootPid];
  // A bound on the walk, in case of a fork bomb: the cap is enforced on what was seen.
  for (let seen = 0; stack.length > 0 && seen < 256; seen++) {
    const pid = stack.pop()!;
    let status: string;
    try {
      status = await readFile(`/proc/${pid}/status`, 'latin1');
    } catch {
      continue; // Gone meanwhile.
    }
    const at = status.indexOf('VmRSS:');
    if (at !== -1) total += Number.parseInt(status.slice(at + 6, status.indexOf('\n', at)), 10) || 0;
    try {
      const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'latin1');
      for (const c of children.split(' ')) if (c.length > 0) stack.push(Number(c));
    } catch {
      // No children file (kernel without CONFIG_PROC_CHILDREN): the leader alone is measured.
    }
  }
  return total;
}

function describeSpawnError(e: NodeJS.ErrnoException, command: string): string {
  if (e.code === 'ENOENT') return `command not found: "${command}" (is it installed and on the PATH the gateway gives servers?)`;
  if (e.code === 'EACCES') return `permission denied running "${command}"`;
  return e.message;
}

function formatBytes(n: number): string {
  return n >= MIB && n % MIB === 0 ? `${n / MIB} MiB` : `${n} bytes`;
}
