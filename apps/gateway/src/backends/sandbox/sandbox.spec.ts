import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToOutput, testSandboxOptions } from '../../../test/fixtures/sandbox-run';
import { FIXTURE, nodeSpec } from '../../../test/fixtures/stdio-helpers';
import { StdioBackend } from '../stdio';
import { BackendError } from '../types';
import { createLauncher } from './launcher';
import { bwrapArgs, prlimitArgs } from './bwrap-args';
import { BLOCKED_IPV4_RANGES } from '../../net/private-ranges';
import { parseCidrs } from '../../net/cidr';
import { egressRouteCommands } from './egress-routes';

const OPTIONS = testSandboxOptions();

describe('bwrap arguments', () => {
  const layout = { binds: ['/usr'], symlinks: [['usr/bin', '/bin']] as Array<[string, string]> };
  const args = bwrapArgs({
    layout,
    etcFiles: { '/etc/passwd': '/x/passwd' },
    cacheDir: null,
    scratchMb: 16,
    network: 'none',
    handshake: null,
  });

  it('unshares everything, drops every capability and dies with the gateway', () => {
    for (const flag of ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session'])
      expect(args).toContain(flag);
    expect(args.join(' ')).toContain('--cap-drop ALL');
    expect(args).not.toContain('--share-net');
  });

  it('binds the host read-only and gives only capped tmpfs to write, under a read-only root', () => {
    const joined = args.join(' ');
    expect(joined).toContain('--ro-bind /usr /usr');
    expect(joined).toContain('--symlink usr/bin /bin');
    expect(joined).toContain('--ro-bind /x/passwd /etc/passwd');
    for (const p of ['/tmp', '/home/mcp', '/dev/shm']) expect(joined).toContain(`--size ${16 * 1024 * 1024} --tmpfs ${p}`);
    expect(joined).toContain('--remount-ro /');
    expect(args.filter((a) => a === '--bind')).toEqual([]);
  });

  it('binds an org cache folder writable only when there is one, and waits for the network only for egress', () => {
    const egress = bwrapArgs({
      layout,
      etcFiles: {},
      cacheDir: '/c/org1',
      scratchMb: 1,
      network: 'egress',
      handshake: { infoFd: 3, blockFd: 4 },
    });
    expect(egress.join(' ')).toContain('--bind /c/org1 /cache');
    expect(egress.join(' ')).toContain('--info-fd 3 --block-fd 4');
    expect(args).not.toContain('--block-fd');
  });

  it('turns limits into prlimit flags, the process limit only with a uid per server', () => {
    expect(prlimitArgs(OPTIONS.limits, false)).not.toContain('--nproc=32');
    expect(prlimitArgs(OPTIONS.limits, true)).toEqual([
      `--data=${256 * 1024 * 1024}`,
      '--nproc=32',
      '--nofile=128',
      `--fsize=${8 * 1024 * 1024}`,
      '--cpu=30',
      '--core=0',
    ]);
  });
});

describe('egress routes', () => {
  it('prohibits private, metadata, CGNAT and reserved ranges and every host address, even inside an allowed range', () => {
    const lines = egressRouteCommands(['10.20.0.0/16'], ['10.20.0.5', '192.0.2.7', 'fe80::1']);
    for (const r of BLOCKED_IPV4_RANGES) expect(lines).toContain(`route add prohibit ${r}`);
    expect(lines).toContain('route add prohibit 169.254.0.0/16');
    expect(lines).toContain('route add prohibit 10.20.0.5/32');
    expect(lines).toContain('route add prohibit 192.0.2.7/32');
    expect(lines).toContain('route add 10.20.0.0/16 via 10.0.2.2 dev tap0');
    expect(lines.join('\n')).not.toContain('fe80');
  });

  it('validates operator CIDRs', () => {
    expect(parseCidrs([' 10.1.0.0/16 '])).toEqual(['10.1.0.0/16']);
    for (const bad of ['10.1.0.0', '10.1.0.0/33', 'fc00::/7', '300.1.1.1/8', '10.1.0.0/16; reboot']) {
      expect(() => parseCidrs([bad])).toThrow(/is not an IPv4 CIDR/);
    }
  });
});

describe('the launcher', () => {
  it('fails closed, naming what is missing, when bubblewrap is not installed', async () => {
    const launcher = await createLauncher(OPTIONS, (tool) => (tool === 'bwrap' ? null : `/usr/bin/${tool}`));
    expect(launcher.status).toMatchObject({ mode: 'bwrap', ok: false, detail: expect.stringContaining('bwrap not found') });
    expect(() => launcher.launch({ command: 'true', args: [], env: {}, orgId: 'o', network: 'none' })).toThrow(
      /the stdio sandbox does not work on this gateway \(bwrap not found/,
    );
  });

  it('makes every stdio server fail closed with that reason, never run unconfined', async () => {
    const launcher = await createLauncher(OPTIONS, () => null);
    const backend = new StdioBackend(nodeSpec(FIXTURE), { launcher });
    const error = (await backend.ready().catch((e: unknown) => e)) as BackendError;
    expect(error).toBeInstanceOf(BackendError);
    expect(error.kind).toBe('unavailable');
    expect(error.message).toMatch(/could not be started: the stdio sandbox does not work on this gateway \(bwrap, prlimit, nice not found/);
    expect(backend.pid).toBeUndefined();
    await backend.close();
  });

  it('refuses egress servers when slirp4netns is missing, and still runs network-none ones', async () => {
    const which = (tool: string) =>
      execFileSync('sh', ['-c', `command -v ${tool}`])
        .toString()
        .trim() || null;
    const launcher = await createLauncher(OPTIONS, (tool) => (tool === 'slirp4netns' ? null : which(tool)));
    expect(launcher.status).toMatchObject({ ok: true, egress: { ok: false, detail: 'slirp4netns not found' } });
    expect(() => launcher.launch({ command: 'true', args: [], env: {}, orgId: 'o', network: 'egress' })).toThrow(
      /cannot give sandboxed servers outbound network/,
    );
    expect((await runToOutput(launcher.launch({ command: 'true', args: [], env: {}, orgId: 'o', network: 'none' }))).code).toBe(0);
  });

  it('runs a server as an unprivileged user with only its own environment and a read-only host', async () => {
    const launcher = await createLauncher(OPTIONS);
    expect(launcher.status.ok).toBe(true);
    const script =
      'id -u; echo "$SECRET"; env | sort | cut -d= -f1 | tr "\\n" " "; echo; touch /usr/x 2>&1 | grep -o "Read-only" ; ls ' + tmpdir();
    const r = await runToOutput(
      launcher.launch({ command: 'sh', args: ['-c', script], env: { SECRET: 'only-mine' }, orgId: 'o', network: 'none' }),
    );
    const [uid, secret, names, ro, tmpListing] = r.out.split('\n');
    expect(uid).toBe('1000');
    expect(secret).toBe('only-mine');
    expect(names!.trim().split(' ')).toEqual(['HOME', 'LANG', 'PATH', 'PWD', 'SECRET', 'TMPDIR', 'USER']);
    expect(ro).toBe('Read-only');
    // The host's temp directory is not the sandbox's (its /tmp is a fresh tmpfs).
    expect(tmpListing ?? '').toBe('');
  });

  it('works for a gateway that is not root: servers run as the gateway, egress fails closed with the reason', () => {
    if (process.getuid?.() !== 0) return; // Needs root to become another user for the test.
    const script = join(__dirname, '../../../test/fixtures/sandbox-as-user.ts');
    const out = execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65533', '--clear-groups', process.execPath, '-r', require.resolve('@swc-node/register'), script],
      { env: { PATH: process.env.PATH, HOME: tmpdir() }, timeout: 60_000 },
    );
    const { status, run } = JSON.parse(out.toString().trim().split('\n').pop()!);
    expect(status).toMatchObject({ ok: true, detail: expect.stringContaining("the gateway's uid 65534"), egress: { ok: false } });
    expect(run).toEqual({ code: 0, out: '1000' });
  });
});
