import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';

/** Resolves when the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server of the test's own on a free loopback port, for tests that stop and restart
 * Redis (the shared one on 6379 is never touched). It keeps an append-only file fsynced on every
 * write in a temporary directory, so a restart keeps the queues, as production Redis must.
 */
export interface PrivateRedis {
  url: string;
  /** SIGTERM and wait for the exit (Redis is down until restart()). */
  stop(): Promise<void>;
  /** Start it again on the same port and data directory; resolves when it answers PING. */
  restart(): Promise<void>;
  /** SIGKILL and remove the data directory. */
  close(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'tg-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const spawnRedis = () =>
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      { stdio: 'ignore' },
    );
  const ready = async () => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      const ok = await probe
        .connect()
        .then(() => probe.ping())
        .then(
          () => true,
          () => false,
        );
      probe.disconnect();
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`private redis on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  let proc = spawnRedis();
  await ready();
  return {
    url,
    async stop() {
      proc.kill('SIGTERM');
      await exited(proc);
    },
    async restart() {
      proc = spawnRedis();
      await ready();
    },
    async close() {
      proc.kill('SIGKILL');
      await exited(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Sends until Redis takes it, as the gateway does with a batch its queue refused (kept and
 * re-sent with the same job ids, which BullMQ deduplicates).
 */
export async function sendUntilTaken(send: () => Promise<unknown>, retryMs = 50): Promise<void> {
  for (;;) {
    try {
      await send();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}
