import { createServer, type Server } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { PrismaService } from './infra/prisma.service';
import { RedisService } from './infra/redis.service';

/**
 * The worker's probe endpoints, for containers (compose health checks, Kubernetes probes):
 * `GET /healthz` answers while the process runs; `GET /readyz` answers 200 only while Postgres and
 * Redis both answer (503 with the failing checks otherwise). An outage does not stop the worker
 * (its consumers pause and probe, see infra/outage.ts), so only readiness reflects it. The server
 * is unref'd: it never keeps a stopping worker alive.
 */
export async function serveWorkerHealth(app: INestApplicationContext, host: string, port: number): Promise<Server> {
  const prisma = app.get(PrismaService);
  const redis = app.get(RedisService);
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, { status: 'method_not_allowed' });
    if (path === '/healthz') return reply(200, { status: 'ok' });
    if (path !== '/readyz') return reply(404, { status: 'not_found' });
    void Promise.all([
      prisma.db.$queryRaw`SELECT 1`.then(
        () => true,
        () => false,
      ),
      redis.client.ping().then(
        () => true,
        () => false,
      ),
    ]).then(([database, redisOk]) => {
      const ready = database && redisOk;
      reply(ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', checks: { database, redis: redisOk } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.unref();
  return server;
}
