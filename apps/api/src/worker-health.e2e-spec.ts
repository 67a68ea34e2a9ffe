import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { startTcpProxy, type TcpProxy } from '../test/tcp-proxy';
import { loadEnv } from './config/env';
import { startWorker } from './worker';
import { serveWorkerHealth } from './worker-health';

describe('worker probes (/healthz, /readyz)', () => {
  let pgProxy: TcpProxy;
  let app: INestApplicationContext;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const db = new URL(process.env.DATABASE_URL as string);
    pgProxy = await startTcpProxy(Number(db.port || 5432), db.hostname);
    app = await startWorker(loadEnv({ ...process.env, DATABASE_URL: pgProxy.via(db.toString()) }), { logger: false });
    server = await serveWorkerHealth(app, '127.0.0.1', 0);
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.close();
    await app?.close();
    await pgProxy?.close();
  });

  it('is alive and ready while Postgres and Redis answer', async () => {
    const alive = await fetch(`${base}/healthz`);
    expect(alive.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: true, redis: true } });
  });

  it('stays alive but is not ready while Postgres is unreachable, and ready again after', async () => {
    await pgProxy.stop();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not_ready', checks: { database: false, redis: true } });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await pgProxy.start();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await fetch(`${base}/readyz`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
  });
});
