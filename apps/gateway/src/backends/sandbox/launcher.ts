import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SandboxStatus } from '@toolgate/contracts';
import { hostAddresses } from '../../net/private-ranges';
import { bwrapArgs, prlimitArgs, sandboxBaseEnv } from './bwrap-args';
import { attachEgress, BLOCK_FD, detachEgress, type EgressTools, INFO_FD } from './egress';
import { egressRouteCommands } from './egress-routes';
import { parseCidrs } from '../../net/cidr';
import { writeEtcFiles } from './etc-files';
import { type HostLayout, hostLayout } from './host-layout';
import type { LaunchRequest, SandboxOptions } from './options';
import { SandboxUids } from './uids';

/** A started server process and what its launch holds until it exits. */
export interface Launched {
  proc: ChildProcess;
  /** Resolves when the server's command may run; rejects when its sandbox could not be set up. */
  ready: Promise<void>;
  /** After the process exited: give back its uid, stop its network helper. */
  dispose(): void;
}

/** Starts stdio servers: confined (bwrap) or, by the operator's explicit choice, not. */
export interface Launcher {
  readonly status: SandboxStatus;
  /** Throws when the process cannot be spawned at all (the caller reports it as unavailable). */
  launch(req: LaunchRequest): Launched;
}

const EGRESS_SETUP_MS = 10_000;
const PIPES = ['pipe', 'pipe', 'pipe'] as const;

/** Runs servers as plain children of the gateway: only for single-team self-hosting. */
export class UnconfinedLauncher implements Launcher {
  readonly status: SandboxStatus = {
    mode: 'off',
    ok: true,
    detail: 'STDIO_SANDBOX=off: stdio servers run unconfined, with the gateway user’s access to this host',
    egress: { ok: true, detail: 'unconfined servers share the gateway’s network' },
    limits: 'rlimit',
  };

  launch(req: LaunchRequest): Launched {
    // Never the gateway's own secrets or NODE_OPTIONS: a few base variables, then the server's.
    const base: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin' };
    for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
    const env = { ...base, ...req.env };
    const proc = spawn(req.command, req.args, { env, cwd: tmpdir(), stdio: [...PIPES], detached: true, windowsHide: true });
    return { proc, ready: Promise.resolve(), dispose: () => undefined };
  }
}

interface Tools extends EgressTools {
  bwrap: string;
  prlimit: string;
  nice: string;
}

export class BwrapLauncher implements Launcher {
  status: SandboxStatus;
  private readonly layout: HostLayout;
  private readonly etcFiles: Record<string, string>;
  private readonly uids: SandboxUids;
  private readonly routes: string[];

  constructor(
    private readonly options: SandboxOptions,
    private readonly tools: Tools,
  ) {
    this.layout = hostLayout(options.readOnlyPaths);
    this.etcFiles = writeEtcFiles();
    this.uids = new SandboxUids(options.uidRange);
    this.routes = egressRouteCommands(parseCidrs(options.egressAllow), hostAddresses());
    const who = this.uids.perServer
      ? `one host uid per server from ${options.uidRange.first}`
      : `the gateway's uid ${process.getuid?.()} (not root: servers share it, so no per-server process limit)`;
    this.status = {
      mode: 'bwrap',
      ok: false,
      detail: `bubblewrap, not checked yet; ${who}`,
      egress: { ok: false, detail: 'not checked yet' },
      limits: 'rlimit',
    };
  }

  launch(req: LaunchRequest): Launched {
    if (!this.status.ok) throw new Error(`the stdio sandbox does not work on this gateway (${this.status.detail})`);
    if (req.network === 'egress' && !this.status.egress.ok) {
      throw new Error(`this gateway cannot give sandboxed servers outbound network (${this.status.egress.detail})`);
    }
    return this.start(req);
  }

  /** Start one sandbox for real, also used by the self-check. */
  private start(req: LaunchRequest): Launched {
    const uid = this.uids.acquire();
    const egress = req.network === 'egress';
    const cacheDir = this.orgCache(req.orgId);
    const args = [
      '-n',
      '10',
      this.tools.prlimit,
      ...prlimitArgs(this.options.limits, this.uids.perServer),
      '--',
      this.tools.bwrap,
      ...bwrapArgs({
        layout: this.layout,
        etcFiles: this.etcFiles,
        cacheDir,
        scratchMb: this.options.scratchMb,
        network: req.network,
        handshake: egress ? { infoFd: INFO_FD, blockFd: BLOCK_FD } : null,
      }),
      '--',
      req.command,
      ...req.args,
    ];
    let proc: ChildProcess;
    try {
      proc = spawn(this.tools.nice, args, {
        env: { ...sandboxBaseEnv(cacheDir), ...req.env },
        cwd: '/',
        // Switching uid needs root; a gateway that is not root runs sandboxes as itself.
        ...(this.uids.perServer ? { uid, gid: uid } : {}),
        stdio: egress ? [...PIPES, 'pipe', 'pipe'] : [...PIPES],
        detached: true,
        windowsHide: true,
      });
    } catch (e) {
      this.uids.release(uid);
      throw e;
    }
    // The handshake descriptors are sockets; their peer going away is not an error of ours.
    for (const s of proc.stdio.slice(3)) s?.on('error', () => undefined);
    let slirp: ChildProcess | undefined;
    const ready = egress
      ? attachEgress(proc, this.tools, this.routes, EGRESS_SETUP_MS).then((s) => {
          slirp = s;
        })
      : Promise.resolve();
    ready.catch(() => undefined);
    let disposed = false;
    return {
      proc,
      ready,
      dispose: () => {
        if (disposed) return;
        disposed = true;
        if (slirp) detachEgress(slirp);
        this.uids.release(uid);
      },
    };
  }

  /** Start `true` in a sandbox (and in an egress sandbox): the status says whether servers can start. */
  async selfCheck(): Promise<SandboxStatus> {
    const base = this.status.detail.replace(/^bubblewrap, not checked yet; /, '');
    const trial = (network: 'none' | 'egress') => runToEnd(this.start({ command: 'true', args: [], env: {}, orgId: '_check', network }));
    const plain = await trial('none');
    const egress = plain.ok ? await trial('egress') : { ok: false, detail: 'the sandbox itself does not start' };
    this.status = {
      ...this.status,
      ok: plain.ok,
      detail: plain.ok ? `bubblewrap; ${base}` : `bubblewrap cannot start a sandbox here: ${plain.detail}`,
      egress: egress.ok
        ? { ok: true, detail: 'slirp4netns; private, link-local and host addresses blocked' }
        : { ok: false, detail: egress.detail },
    };
    return this.status;
  }

  private orgCache(orgId: string): string | null {
    if (!this.options.cacheDir) return null;
    const dir = path.join(this.options.cacheDir, orgId.replace(/[^A-Za-z0-9_-]/g, '_'));
    // Servers of one org run under different uids and share their org's cache; the sticky bit
    // keeps one from deleting another's files. Other orgs never see this folder.
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o1777);
    return dir;
  }
}

/** The sandbox this gateway's config asks for, checked on this host. Never throws. */
export async function createLauncher(options: SandboxOptions, find: (tool: string) => string | null = findTool): Promise<Launcher> {
  if (options.mode === 'off') return new UnconfinedLauncher();
  const tools = {
    bwrap: find('bwrap'),
    prlimit: find('prlimit'),
    nice: find('nice'),
    slirp4netns: find('slirp4netns'),
    nsenter: find('nsenter'),
    ip: find('ip'),
  };
  const missing = (['bwrap', 'prlimit', 'nice'] as const).filter((t) => tools[t] === null);
  if (missing.length > 0) return new BrokenLauncher(`${missing.join(', ')} not found (install Debian's bubblewrap and util-linux)`);
  let launcher: BwrapLauncher;
  try {
    launcher = new BwrapLauncher(options, tools as Tools);
  } catch (e) {
    return new BrokenLauncher(e instanceof Error ? e.message : String(e));
  }
  const egressMissing = (['slirp4netns', 'nsenter', 'ip'] as const).filter((t) => tools[t] === null);
  await launcher.selfCheck();
  if (egressMissing.length > 0)
    launcher.status = { ...launcher.status, egress: { ok: false, detail: `${egressMissing.join(', ')} not found` } };
  return launcher;
}

/** Sandbox required but unusable: every stdio server fails closed with the reason. */
class BrokenLauncher implements Launcher {
  readonly status: SandboxStatus;
  constructor(reason: string) {
    this.status = { mode: 'bwrap', ok: false, detail: reason, egress: { ok: false, detail: reason }, limits: 'rlimit' };
  }
  launch(): Launched {
    throw new Error(`the stdio sandbox does not work on this gateway (${this.status.detail})`);
  }
}

function runToEnd(launched: Launched): Promise<{ ok: boolean; detail: string }> {
  const { proc } = launched;
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-1000);
  });
  proc.stdin!.end();
  const exited = new Promise<{ ok: boolean; detail: string }>((resolve) => {
    proc.once('error', (e) => resolve({ ok: false, detail: e.message }));
    proc.once('exit', (code) => resolve(code === 0 ? { ok: true, detail: '' } : { ok: false, detail: stderr.trim() || `exit ${code}` }));
  });
  return launched.ready
    .then(
      () => exited,
      async (e: unknown) => {
        try {
          process.kill(-proc.pid!, 'SIGKILL');
        } catch {
          // Already gone.
        }
        await exited;
        return { ok: false, detail: e instanceof Error ? e.message : String(e) };
      },
    )
    .finally(() => launched.dispose());
}

function findTool(name: string): string | null {
  for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin', '/usr/local/sbin']) {
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // Not here.
    }
  }
  return null;
}
