import { type ChildProcess, spawn } from 'node:child_process';
import { deserializeMessage, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** How much of the child's stderr is kept for error messages. */
const STDERR_TAIL_BYTES = 4096;
/** Largest single JSON-RPC line accepted from the child. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

interface ChildProcessParams {
  command: string;
  args: string[];
  /** The complete environment of the child: nothing is inherited implicitly. */
  env: Record<string, string>;
  cwd?: string;
  /** Grace periods of close(): after closing stdin, then after SIGTERM, before SIGKILL. */
  closeGraceMs?: number;
}

interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * An MCP stdio client transport that owns its child process completely.
 *
 * The SDK's StdioClientTransport is close, but a control plane needs a little more from it:
 * - the exit code and signal, and a tail of stderr, to tell a person *why* a server died;
 * - the exact environment we pass (the SDK always merges in a few variables of its own);
 * - the child in its own process group, so close() also ends whatever the command started
 *   (`npx`, `uvx`, shell wrappers): no orphans are left behind.
 * - the text of a stdout line that is not JSON-RPC (servers that log to stdout are a classic).
 * Message (de)serialization reuses the SDK's serializeMessage / deserializeMessage.
 */
export class ChildProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child?: ChildProcess;
  /** Bytes of stdout not yet terminated by a newline. */
  private pending: Buffer = Buffer.alloc(0);
  private stderr: Buffer = Buffer.alloc(0);
  private exitInfo: ChildExit | null = null;
  private exited?: Promise<void>;
  private closed?: Promise<void>;
  private closing?: Promise<void>;
  private closeNotified = false;
  /** The last line on stdout that was not JSON-RPC, a frequent cause of failed handshakes. */
  private badStdoutLine: string | null = null;

  constructor(private readonly params: ChildProcessParams) {}

  /** Resolves once the process has been spawned; rejects (ENOENT, EACCES, …) if it could not be. */
  start(): Promise<void> {
    if (this.child) return Promise.reject(new Error('ChildProcessTransport already started'));
    return new Promise((resolve, reject) => {
      const child = spawn(this.params.command, this.params.args, {
        env: this.params.env,
        cwd: this.params.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
        windowsHide: true,
        // Its own process group (POSIX), so close() can signal everything the command spawned.
        detached: process.platform !== 'win32',
      });
      this.child = child;
      let spawned = false;
      // 'exit' rather than 'close': helpers that inherited the pipes may keep them open.
      this.exited = new Promise((done) => child.once('exit', () => done()));
      this.closed = new Promise((done) => child.once('close', () => done()));

      child.once('spawn', () => {
        spawned = true;
        resolve();
      });
      child.once('error', (error) => {
        // A failed spawn emits 'error' and then 'close'; report it once, as the start failure.
        if (!spawned) reject(error);
        else this.onerror?.(error);
      });
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
      });
      child.once('close', () => this.notifyClosed());

      child.stdout?.on('data', (chunk: Buffer) => this.read(chunk));
      child.stderr?.on('data', (chunk: Buffer) => {
        const joined = Buffer.concat([this.stderr, chunk]);
        this.stderr = joined.length > STDERR_TAIL_BYTES ? joined.subarray(joined.length - STDERR_TAIL_BYTES) : joined;
      });
      // A child that exits while we write gives EPIPE: the 'close' path reports the real reason.
      child.stdin?.on('error', () => undefined);
      child.stdout?.on('error', (error) => this.onerror?.(error));
    });
  }

  /** Splits stdout into lines; each line is one JSON-RPC message. */
  private read(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a)) {
      const line = buf.toString('utf8', 0, nl).replace(/\r$/, '');
      buf = buf.subarray(nl + 1);
      if (line.trim() === '') continue;
      let message: JSONRPCMessage;
      try {
        message = deserializeMessage(line);
      } catch (error) {
        // Not JSON-RPC (a log line on stdout, say): skip it but remember it for the diagnosis.
        this.badStdoutLine = line.length > 300 ? `${line.slice(0, 300)}…` : line;
        this.onerror?.(error as Error);
        continue;
      }
      this.onmessage?.(message);
    }
    this.pending = buf;
    if (this.pending.length > MAX_MESSAGE_BYTES) {
      this.pending = Buffer.alloc(0);
      this.onerror?.(new Error(`the server sent a message larger than ${MAX_MESSAGE_BYTES} bytes`));
      void this.close();
    }
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed || this.exitInfo) throw new Error('Not connected: the server process is not running');
    const line = serializeMessage(message);
    if (!stdin.write(line)) await new Promise<void>((resolve) => stdin.once('drain', resolve));
  }

  /**
   * Ends the process the way the MCP spec suggests: close stdin, wait, SIGTERM, wait, SIGKILL —
   * each signal sent to the whole process group. Idempotent; resolves once the child is gone.
   */
  close(): Promise<void> {
    this.closing ??= this.terminate();
    return this.closing;
  }

  private async terminate(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) {
      // Never started, or the spawn itself failed: there is no process to end.
      this.notifyClosed();
      return;
    }
    const grace = this.params.closeGraceMs ?? 1000;
    const gone = (ms: number) =>
      Promise.race([this.exited!.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);

    if (this.exitInfo === null) {
      try {
        child.stdin?.end();
      } catch {
        // Already closed.
      }
      if (!(await gone(grace))) {
        this.signal(child, 'SIGTERM');
        if (!(await gone(grace))) {
          this.signal(child, 'SIGKILL');
          await gone(grace);
        }
      }
    }
    // The leader may have exited on its own while helpers it started linger in its group.
    this.signal(child, 'SIGKILL');
    // Let the pipes drain so stderrTail is complete (bounded: a stuck pipe must not hang us).
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, grace).unref())]);
    this.pending = Buffer.alloc(0);
    this.notifyClosed();
  }

  private signal(child: ChildProcess, sig: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
      if (process.platform !== 'win32') process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // ESRCH: nothing left to signal.
    }
  }

  private notifyClosed(): void {
    if (this.closeNotified) return;
    this.closeNotified = true;
    this.onclose?.();
  }

  /** The exit status, once the process has exited. */
  get exit(): ChildExit | null {
    return this.exitInfo;
  }

  /** The last ~4 KB the process wrote to stderr. */
  get stderrTail(): string {
    return this.stderr
      .toString('utf8')
      .replace(/^\uFFFD+/, '')
      .trim();
  }

  get nonJsonStdout(): string | null {
    return this.badStdoutLine;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
}
