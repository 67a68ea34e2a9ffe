import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { createDb, type Db } from '@toolgate/db';
import { ENV, type Env } from '../config/env';

/** The process's one Prisma client. Inject `PrismaService` and use `.db`. */
@Injectable()
export class PrismaService implements OnModuleDestroy {
  readonly db: Db;

  constructor(@Inject(ENV) env: Env) {
    this.db = createDb({ url: env.DATABASE_URL });
  }

  async onModuleDestroy(): Promise<void> {
    await this.db.$disconnect();
  }
}
