import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { textOf } from './fixtures/gw-helpers';
import { HOSTILE_SERVER } from './fixtures/hostile-server';
import { type ApiClient, connect, type Stack, setupOrg, startStack } from './harness';

/**
 * A hostile tenant on the real stack (API + gateway, real bubblewrap): its stdio server tries
 * to read the platform's secrets, the project, other homes; to write outside its home; to reach
 * Postgres, Redis, the API and the gateway; to fork-bomb, exhaust memory and disk, outlive its
 * backend and signal the gateway. Every attempt fails, through an agent's call and through a
 * probe, while another tenant's agent keeps being served.
 */

const ROOT = path.resolve(__dirname, '../../..');
const LIMITS = { STDIO_MAX_PROCESSES: '40', STDIO_MEMORY_LIMIT_MB: '256', STDIO_SCRATCH_MB: '16', STDIO_MAX_FILE_MB: '64' };
const PLATFORM_SECRETS = ['JWT_SECRET', 'TOOLGATE_SECRET_KEY', 'DATABASE_URL'] as const;

/** Host processes (not zombies) whose command line carries the marker. */
function runningWith(marker: string): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) n++;
    } catch {
      // Gone meanwhile.
    }
  }
  return n;
}

describe('a hostile tenant', () => {
  let stack: Stack;
  let attacker: { api: ApiClient; org: { id: string; slug: string }; key: string };
  let victim: Client;
  let agent: Client;
  const marker = `tg-daemon-${randomUUID()}`;

  const hostAddresses = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);

  const call = async (tool: string) => JSON.parse(textOf(await agent.callTool({ name: `hostile__${tool}`, arguments: {} })));
  const egressCall = async (tool: string) => JSON.parse(textOf(await agent.callTool({ name: `outbound__${tool}`, arguments: {} })));

  /** The other tenant's agent is served, right now. */
  const victimServed = async () =>
    expect(textOf(await victim.callTool({ name: 'everything__echo', arguments: { message: 'still here' } }))).toContain('still here');

  beforeAll(async () => {
    stack = await startStack({ gatewayEnv: LIMITS });
    const port = (u: string) => Number(new URL(u).port);
    const cfg = JSON.stringify({
      root: ROOT,
      marker,
      hostAddresses,
      ports: { postgres: 5432, redis: 6379, api: port(stack.apiUrl), gateway: port(stack.gatewayUrl) },
      pids: { gateway: process.pid },
    });
    const hostile = (slug: string, network: 'none' | 'egress') => ({
      slug,
      name: slug,
      transport: 'stdio',
      command: 'node',
      // The source travels in the environment (an argument may hold 4 KiB, a value 8 KiB).
      args: ['-e', 'eval(process.env.TG_HOSTILE)', cfg],
      env: { TG_HOSTILE: { value: HOSTILE_SERVER } },
      network,
    });
    attacker = await setupOrg(stack, { servers: [hostile('hostile', 'none'), hostile('outbound', 'egress')] });
    agent = await connect(`${stack.gatewayUrl}/mcp/${attacker.org.slug}`, attacker.key);
    const other = await setupOrg(stack);
    victim = await connect(`${stack.gatewayUrl}/mcp/${other.org.slug}`, other.key);
    await victimServed();
  }, 60_000);

  afterAll(async () => {
    await agent?.close();
    await victim?.close();
    await stack?.close();
  });

  /** No platform secret value appears anywhere in what the tenant saw. */
  function expectNoPlatformSecret(seen: unknown) {
    const text = JSON.stringify(seen);
    for (const name of PLATFORM_SECRETS) expect(text).not.toContain(process.env[name]!);
  }

  function expectFilesConfined(r: Record<string, string>) {
    expectNoPlatformSecret(r);
    for (const k of ['projectEnvFile', 'projectPackageJson', 'apiSources', 'rootHome', 'shadow', 'dockerSocket']) {
      expect([k, r[k]]).toEqual([k, expect.stringMatching(/^denied: (ENOENT|EACCES)$/)]);
    }
    // The project tree shows only the vetted fixture paths an operator listed, never its sources.
    expect(r.projectTree).toMatch(/^ok: /);
    expect(r.projectTree).not.toMatch(/package\.json|\.env|README|prisma|scripts/);
    expect(r.rootDir).toBe(
      `ok: ${[...new Set(['bin', 'dev', 'etc', 'home', 'lib', 'lib64', 'proc', 'sbin', 'tmp', 'usr', ROOT.split('/')[1]!])].sort().join(',')}`,
    );
    expect(r.homes).toBe('ok: mcp');
    // Its own passwd, not the host's.
    expect(r.hostPasswd).toMatch(/^ok: root:x:0:0:root:\/root:\/usr\/sbin\/nologin\nmcp:x:1000/);
    // Its pid namespace holds only its own processes.
    expect(r.processes).toMatch(/^ok: 1,2(,\d)?$/);
    for (const k of ['writeUsr', 'writeRoot', 'writeEtc', 'writeProject'])
      expect([k, r[k]]).toEqual([k, expect.stringMatching(/^denied: (EROFS|EACCES|ENOENT)$/)]);
    expect(r.writeHome).toBe('ok: wrote');
    const env = JSON.parse(r.ownEnv) as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual(expect.arrayContaining(['HOME', 'PATH']));
    for (const name of PLATFORM_SECRETS) expect(env[name]).toBeUndefined();
  }

  function expectNetworkConfined(r: Record<string, string>) {
    expect(Object.keys(r).length).toBeGreaterThanOrEqual(8);
    for (const [target, outcome] of Object.entries(r)) {
      expect([target, outcome]).toEqual([target, expect.stringMatching(/^denied: (ECONNREFUSED|ENETUNREACH|EACCES|EHOSTUNREACH)$/)]);
    }
  }

  it('reads none of the platform’s secrets, the project or the host, and writes only its home (agent call)', async () => {
    expectFilesConfined(await call('files'));
    await victimServed();
  });

  it('sees the same through a probe: the control plane runs nothing, the gateway confines it', async () => {
    const servers = await attacker.api.call('GET', `/v1/orgs/${attacker.org.slug}/servers`);
    const hostile = servers.items.find((s: { slug: string }) => s.slug === 'hostile');
    const probed = await attacker.api.call('POST', `/v1/orgs/${attacker.org.slug}/servers/${hostile.id}/probe`, {});
    const described = (name: string) => JSON.parse(probed.catalog.tools.find((t: { name: string }) => t.name === name).description);
    expectFilesConfined(described('files'));
    expectNetworkConfined(described('network'));
  });

  it('reaches none of Postgres, Redis, the API or the gateway, with network none or egress', async () => {
    expectNetworkConfined(await call('network'));
    expectNetworkConfined(await egressCall('network'));
    await victimServed();
  });

  it('cannot fork-bomb past its process limit, and the gateway keeps serving meanwhile', async () => {
    const [bomb] = await Promise.all([call('forkBomb'), victimServed()]);
    expect(bomb.error).toBe('EAGAIN');
    expect(bomb.started).toBeLessThan(Number(LIMITS.STDIO_MAX_PROCESSES));
    await victimServed();
  });

  it('cannot allocate beyond its memory cap', async () => {
    const outcome = await agent
      .callTool({ name: 'hostile__memory', arguments: {} })
      .then((r) => JSON.parse(textOf(r)) as { allocatedMb: number; error: string | null })
      .catch((e: Error) => ({ allocatedMb: -1, error: e.message }));
    // Either the allocation fails inside (data limit) or the watchdog stops the server.
    expect(outcome.error).toBeTruthy();
    expect(outcome.allocatedMb).toBeLessThanOrEqual(Number(LIMITS.STDIO_MEMORY_LIMIT_MB));
    await victimServed();
  });

  it('cannot fill more than its capped scratch space', async () => {
    const disk = await call('disk');
    expect(disk.error).toBe('ENOSPC');
    expect(disk.writtenMb).toBeLessThanOrEqual(Number(LIMITS.STDIO_SCRATCH_MB));
  });

  it('cannot signal the gateway', async () => {
    const sent = await call('signal');
    expect(sent.gateway).toBe('denied: ESRCH');
    await victimServed();
  });

  it('leaves no daemon behind once its backend stops', async () => {
    expect((await call('daemon')).spawned).toBe(true);
    const daemon = `${marker}-daemon`;
    expect(runningWith(daemon)).toBe(1);
    await stack.gateways[0]!.pool.closeAll();
    for (let i = 0; i < 50 && runningWith(daemon) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(runningWith(daemon)).toBe(0);
  });
});
