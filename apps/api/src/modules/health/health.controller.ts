import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { PrismaService } from '../../infra/prisma.service';
import { RedisService } from '../../infra/redis.service';
import { SnapshotService } from '../snapshots/snapshot.service';
import { type ApiMetrics, METRICS } from './metrics';

/** A publish that has been failing longer than this makes the API not ready. */
const MAX_PUBLISH_LAG_SECONDS = 10;

@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    private readonly snapshots: SnapshotService,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
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

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async prometheus(@Res() res: Response) {
    res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}
