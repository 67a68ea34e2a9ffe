import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const cli = (port: number, ...args: string[]) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function startRedis(args: string[], port: number, dir: string): Promise<void> {
  const r = spawnSync('redis-server', [...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'yes']);
  if (r.status !== 0) throw new Error(`redis-server did not start: ${r.stderr}`);
  for (let i = 0; i < 100 && cli(port, 'ping') !== 'PONG'; i++) await new Promise((res) => setTimeout(res, 50));
}

/**
 * Starts redis-server with a deployment's own arguments, queues `jobs` entries the way BullMQ
 * keeps waiting jobs (a list), lets a second pass (appendfsync everysec), kills Redis with
 * SIGKILL (no chance to save) and starts it again on the same folder: returns what is left.
 */
export async function queuedAfterCrash(args: string[], jobs = 100): Promise<number> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'tg-aof-'));
  const key = 'bull:tg-audit:wait';
  await startRedis(args, port, dir);
  try {
    for (let i = 0; i < jobs; i++) cli(port, 'rpush', key, `job-${i}`);
    await new Promise((res) => setTimeout(res, 1500));
    const pid = /process_id:(\d+)/.exec(cli(port, 'info', 'server'))?.[1];
    process.kill(Number(pid), 'SIGKILL');
    for (let i = 0; i < 100 && cli(port, 'ping') === 'PONG'; i++) await new Promise((res) => setTimeout(res, 50));
    await startRedis(args, port, dir);
    return Number(cli(port, 'llen', key));
  } finally {
    cli(port, 'shutdown', 'nosave');
  }
}
