import { type DynamicModule, Module } from '@nestjs/common';
import { ENV, type Env } from './config/env';
import { InfraModule } from './infra/infra.module';
import { AuditWorkerModule } from './modules/audit/audit.worker.module';
import { BillingWorkerModule } from './modules/billing/billing.worker.module';
import { EventsWorkerModule } from './modules/events/events.worker.module';
import { UsageWorkerModule } from './modules/usage/usage.worker.module';

/**
 * The worker process (src/worker.ts): the BullMQ consumers and the timers that go with them
 * (usage roll-ups and quota alerts, audit chain, Stripe meter reports, dead-letter re-drives). No HTTP server. Each
 * consumer is a provider that starts its BullMQ Worker in onModuleInit and closes it in
 * onModuleDestroy, so the same modules also run inside the API process or an e2e test.
 */
@Module({})
export class WorkerModule {
  static forRoot(env: Env): DynamicModule {
    return {
      module: WorkerModule,
      global: true,
      imports: [InfraModule, UsageWorkerModule, BillingWorkerModule, AuditWorkerModule, EventsWorkerModule],
      providers: [{ provide: ENV, useValue: env }],
      exports: [ENV],
    };
  }
}
