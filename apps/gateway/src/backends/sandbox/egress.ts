import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface EgressTools {
  slirp4netns: string;
  nsenter: string;
  ip: string;
}

/** Descriptors of bwrap's handshake, as the gateway passes them (stdio[3], stdio[4]). */
export const INFO_FD = 3;
export const BLOCK_FD = 4;

/**
 * Gives a waiting sandbox its outbound network, then lets it run: read the sandboxed child's pid
 * from bwrap's info fd, attach slirp4netns (a user-mode TCP/IP stack: the sandbox gets a tap
 * device, slirp makes the real connections from the gateway's namespace, never to the host's
 * loopback), add the prohibit routes inside the sandbox's namespace, and only then release
 * bwrap's block fd so the server's command starts. slirp4netns runs sandboxed itself
 * (--enable-sandbox drops its capabilities, --enable-seccomp) and exits when its exit fd closes:
 * on dispose, or when the gateway dies.
 */
export async function attachEgress(
  proc: ChildProcess,
  tools: EgressTools,
  routes: readonly string[],
  timeoutMs: number,
): Promise<ChildProcess> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const pid = await childPid(proc.stdio[INFO_FD] as Readable, deadline);
  const netns = `/proc/${pid}/ns/net`;
  const slirp = spawn(
    tools.slirp4netns,
    [
      // Not --configure: it also touches `lo`, racing bwrap's own loopback setup in the child.
      '--mtu=65520',
      '--disable-host-loopback',
      '--enable-sandbox',
      '--enable-seccomp',
      `--ready-fd=3`,
      `--exit-fd=4`,
      '--netns-type=path',
      netns,
      'tap0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], env: {} },
  );
  for (const s of slirp.stdio.slice(2)) s?.on('error', () => undefined);
  try {
    await untilReady(slirp, deadline);
    await run(tools.nsenter, [`--net=${netns}`, '--', tools.ip, '-batch', '-'], `${routes.join('\n')}\n`, deadline);
  } catch (e) {
    slirp.kill('SIGKILL');
    throw e;
  }
  const block = proc.stdio[BLOCK_FD] as Writable;
  block.end('go');
  return slirp;
}

/** Ends a slirp4netns started by attachEgress (closing its exit fd is enough; the kill is for a stuck one). */
export function detachEgress(slirp: ChildProcess): void {
  (slirp.stdio[4] as Writable | null)?.destroy();
  if (slirp.exitCode === null && slirp.signalCode === null) slirp.kill('SIGKILL');
}

function childPid(info: Readable, deadline: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (e?: Error, pid?: number) => {
      info.off('data', onData);
      info.off('end', onEnd);
      deadline.removeEventListener('abort', onAbort);
      if (e) reject(e);
      else resolve(pid!);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
      if (m) done(undefined, Number(m[1]));
    };
    const onEnd = () => done(new Error('bwrap ended before reporting its child'));
    const onAbort = () => done(new Error('bwrap did not report its child in time'));
    info.on('data', onData);
    info.on('end', onEnd);
    deadline.addEventListener('abort', onAbort, { once: true });
  });
}

function untilReady(slirp: ChildProcess, deadline: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    slirp.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    const fail = (why: string) => reject(new Error(`slirp4netns ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    (slirp.stdio[3] as Readable).once('data', () => resolve());
    slirp.once('error', (e) => fail(`could not start (${e.message})`));
    slirp.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before the network was up`));
    deadline.addEventListener('abort', () => fail('did not bring the network up in time'), { once: true });
  });
}

function run(command: string, args: string[], input: string, deadline: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'], env: {}, signal: deadline });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    child.once('error', (e) => reject(new Error(`${command} failed: ${e.message}`)));
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`setting the sandbox routes failed: ${stderr.trim() || `exit ${code}`}`)),
    );
    // A helper that dies before reading its input reports through its exit code, not EPIPE.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input);
  });
}
