import type { NetworkPolicy } from '@toolgate/contracts';
import { SANDBOX_USER } from './etc-files';
import type { HostLayout } from './host-layout';
import type { SandboxLimits } from './options';

const MIB = 1024 * 1024;

export interface BwrapInput {
  layout: HostLayout;
  /** Sandbox path → host file (passwd, hosts, resolv.conf…). */
  etcFiles: Record<string, string>;
  /** This org's writable cache folder on the host, or null. */
  cacheDir: string | null;
  scratchMb: number;
  network: NetworkPolicy;
  /** Descriptors of the egress handshake: bwrap reports the child's pid, then waits for the network. */
  handshake: { infoFd: number; blockFd: number } | null;
}

/** Where an org's cache folder appears inside the sandbox. */
export const CACHE_MOUNT = '/cache';

/**
 * bwrap's arguments (without the command). Every namespace is new (user, pid, mount, ipc, uts,
 * net, cgroup); no capability survives; the server sees the read-only host layout, its own /etc
 * files, a fresh /proc of its pid namespace, a minimal /dev, and size-capped private tmpfs for
 * its home, /tmp and /dev/shm. `--die-with-parent` ties the tree to the gateway; the pid
 * namespace ties every descendant to the server: daemons die with it.
 */
export function bwrapArgs(input: BwrapInput): string[] {
  const scratch = String(input.scratchMb * MIB);
  const a: string[] = [
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--uid',
    String(SANDBOX_USER.uid),
    '--gid',
    String(SANDBOX_USER.gid),
    '--hostname',
    'mcp',
  ];
  // The private tmpfs first: a vetted path that lives under /tmp is bound on top of it, not hidden.
  a.push('--proc', '/proc', '--dev', '/dev');
  for (const p of ['/tmp', SANDBOX_USER.home, '/dev/shm']) a.push('--size', scratch, '--tmpfs', p);
  for (const p of input.layout.binds) a.push('--ro-bind', p, p);
  for (const [target, p] of input.layout.symlinks) a.push('--symlink', target, p);
  for (const [inside, host] of Object.entries(input.etcFiles)) a.push('--ro-bind', host, inside);
  if (input.cacheDir) a.push('--bind', input.cacheDir, CACHE_MOUNT);
  // bwrap's root is a tmpfs without a size cap: read-only, so the capped mounts are the only writable places.
  a.push('--remount-ro', '/');
  a.push('--chdir', SANDBOX_USER.home);
  if (input.handshake) a.push('--info-fd', String(input.handshake.infoFd), '--block-fd', String(input.handshake.blockFd));
  return a;
}

/**
 * prlimit's arguments: hard and soft limits the server (and bwrap before it) runs under. The
 * kernel counts RLIMIT_NPROC (threads included) per uid, so it is a per-server limit only when
 * each server has a uid of its own; `perServerUid` false leaves it out rather than let every
 * server share one budget with the others.
 */
export function prlimitArgs(limits: SandboxLimits, perServerUid: boolean): string[] {
  return [
    `--data=${limits.memoryMb * MIB}`,
    ...(perServerUid ? [`--nproc=${limits.processes}`] : []),
    `--nofile=${limits.openFiles}`,
    `--fsize=${limits.fileSizeMb * MIB}`,
    `--cpu=${limits.cpuSeconds}`,
    '--core=0',
  ];
}

/** The variables every sandboxed server gets before its own config (which may override them). */
export function sandboxBaseEnv(cacheDir: string | null): Record<string, string> {
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: SANDBOX_USER.home,
    LANG: 'C.UTF-8',
    TMPDIR: '/tmp',
    USER: SANDBOX_USER.name,
  };
  if (cacheDir) {
    env.XDG_CACHE_HOME = CACHE_MOUNT;
    env.npm_config_cache = `${CACHE_MOUNT}/npm`;
    env.UV_CACHE_DIR = `${CACHE_MOUNT}/uv`;
  }
  return env;
}
