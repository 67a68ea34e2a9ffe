import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { PrismaService } from '../../infra/prisma.service';
import { RedisService } from '../../infra/redis.service';
import { SnapshotService } from '../snapshots/snapshot.service';
import { type ApiMetrics, METRICS } from './metrics';
import { QueueBacklog, whenReady } from './queue-backlog';

/** A publish that has been failing longer than this makes the API not ready. */
const MAX_PUBLISH_LAG_SECONDS = 10;
/** How long /health waits for any one component before reporting it down. */
const CHECK_TIMEOUT_MS = 2000;
const TIMEOUT = Symbol('timeout');

/** A check's result and how long it took; a failure or a timeout is `up: false` with its reason. */
async function timed<T>(
  check: () => Promise<T>,
): Promise<{ up: true; latencyMs: number; value: T } | { up: false; latencyMs: number; error: string }> {
  const started = performance.now();
  const latencyMs = () => Math.round((performance.now() - started) * 1000) / 1000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(TIMEOUT), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { up: true, latencyMs: latencyMs(), value };
  } catch (e) {
    // The kind of failure only (class and code, or the timeout): this endpoint is unauthenticated
    // and driver messages can name hosts and users.
    const code = (e as { code?: unknown })?.code;
    const error = e === TIMEOUT ? 'timeout' : e instanceof Error ? (typeof code === 'string' ? `${e.name} ${code}` : e.name) : 'error';
    return { up: false, latencyMs: latencyMs(), error };
  } finally {
    clearTimeout(timer);
  }
}

@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    private readonly snapshots: SnapshotService,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    private readonly backlog: QueueBacklog,
  ) {}

  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() res: Response) {
    const [database, redis] = await Promise.all([
      this.prisma.db.$queryRaw`SELECT 1`.then(() => true).catch(() => false),
      this.redis.client
        .ping()
        .then(() => true)
        .catch(() => false),
    ]);
    const lag = this.snapshots.publishLagSeconds();
    const publishing = lag <= MAX_PUBLISH_LAG_SECONDS;
    const ready = database && redis && publishing;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not_ready',
      checks: { database, redis, snapshotPublishing: publishing },
      snapshotPublishLagSeconds: Math.round(lag),
    });
  }

  /**
   * readyz with the detail an operator needs: each component up or not and its latency, the event
   * queues' backlog, snapshot publishing. 200 when the API can serve (database, Redis, publishing
   * as readyz), 503 otherwise; the backlog informs and never fails it (the worker drains it).
   */
  @Get('health')
  @Header('Cache-Control', 'no-store')
  async health(@Res() res: Response) {
    const [postgres, redis, queues] = await Promise.all([
      timed(() => this.prisma.db.$queryRaw`SELECT 1`),
      timed(() => whenReady(this.redis.client).then(() => this.redis.client.ping())),
      timed(() => this.backlog.read()),
    ]);
    const lag = this.snapshots.publishLagSeconds();
    const publishing = lag <= MAX_PUBLISH_LAG_SECONDS;
    const ok = postgres.up && redis.up && publishing;
    const component = (c: typeof postgres) =>
      c.up ? { up: true, latencyMs: c.latencyMs } : { up: false, latencyMs: c.latencyMs, error: c.error };
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'unavailable',
      components: {
        postgres: component(postgres),
        redis: component(redis),
        queues: queues.up
          ? { up: true, latencyMs: queues.latencyMs, ...queues.value }
          : { up: false, latencyMs: queues.latencyMs, error: queues.error },
        snapshots: { publishing, publishLagSeconds: Math.round(lag) },
      },
    });
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async prometheus(@Res() res: Response) {
    res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}
