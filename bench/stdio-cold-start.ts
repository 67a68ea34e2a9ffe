/**
 * Cold start of a stdio MCP server, sandboxed (bwrap, network none and egress) and unconfined:
 * from spawn to the answer to `initialize`, the same echo server `pnpm bench` uses.
 *   cd apps/gateway && node -r @swc-node/register ../../bench/stdio-cold-start.ts [runs]
 */
import path from 'node:path';
import { createLauncher, type Launcher } from '../apps/gateway/src/backends/sandbox/launcher';

const ROOT = path.resolve(__dirname, '..');
const ECHO = path.join(ROOT, 'bench', 'echo-server.mjs');
const RUNS = Number(process.argv[2] ?? 15);
const INIT = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cold', version: '1' } } })}\n`;

async function once(launcher: Launcher, network: 'none' | 'egress'): Promise<number> {
  const started = performance.now();
  const run = launcher.launch({ command: process.execPath, args: [ECHO], env: {}, orgId: 'bench', network });
  let stderr = '';
  run.proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  run.proc.stdin!.write(INIT);
  await new Promise<void>((resolve, reject) => {
    run.proc.stdout!.once('data', () => resolve());
    run.proc.once('exit', (code) => reject(new Error(`${network}: exited ${code}: ${stderr.trim()}`)));
    run.ready.catch(reject);
  });
  const ms = performance.now() - started;
  process.kill(-run.proc.pid!, 'SIGKILL');
  await new Promise((r) => run.proc.once('exit', r));
  run.dispose();
  return ms;
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(1)} ms, min ${s[0]!.toFixed(1)}, max ${s[s.length - 1]!.toFixed(1)}`;
}

async function main(): Promise<void> {
  const base = {
    readOnlyPaths: [path.join(ROOT, 'bench'), path.join(ROOT, 'node_modules'), path.join(ROOT, 'apps/gateway/node_modules')],
    cacheDir: null,
    scratchMb: 64,
    limits: { memoryMb: 1024, processes: 128, openFiles: 1024, fileSizeMb: 256, cpuSeconds: 3600 },
    uidRange: { first: 200_000, count: 1000 },
    egressAllow: [],
  };
  const off = await createLauncher({ ...base, mode: 'off' });
  const on = await createLauncher({ ...base, mode: 'bwrap' });
  const cases: Array<[string, Launcher, 'none' | 'egress']> = [
    ['unconfined', off, 'none'],
    ['bwrap, network none', on, 'none'],
    ['bwrap, network egress', on, 'egress'],
  ];
  const results = new Map<string, number[]>(cases.map(([n]) => [n, []]));
  // Interleaved, so drift on the machine falls on every case alike.
  for (let i = 0; i < RUNS; i++) for (const [name, l, net] of cases) results.get(name)!.push(await once(l, net));
  const unconfined = [...results.get('unconfined')!].sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
  for (const [name, xs] of results) {
    const median = [...xs].sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
    console.log(`${name.padEnd(24)} ${stats(xs)}  (${(median / unconfined).toFixed(2)}x unconfined)`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
