import { Module } from '@nestjs/common';
import { QuotaAlertService } from './quota-alerts.service';
import { UsageConsumer } from './usage.consumer';
import { UsageRollupWriter } from './usage.rollup';

/** The `tg-usage` consumer, quota alerts and their webhook deliveries (worker entry point). */
@Module({ providers: [UsageConsumer, UsageRollupWriter, QuotaAlertService], exports: [UsageConsumer, QuotaAlertService] })
export class UsageWorkerModule {}
