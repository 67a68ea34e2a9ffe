import { Module } from '@nestjs/common';
import { HealthController } from './health.controller';
import { QueueBacklog } from './queue-backlog';

@Module({ controllers: [HealthController], providers: [QueueBacklog] })
export class HealthModule {}
