import { Module } from '@nestjs/common';
import { UsageController } from './usage.controller';
import { UsageRepository } from './usage.repository';
import { UsageService } from './usage.service';

/** The usage API (control plane). The consumer lives in UsageWorkerModule. */
@Module({ controllers: [UsageController], providers: [UsageService, UsageRepository], exports: [UsageRepository] })
export class UsageModule {}
