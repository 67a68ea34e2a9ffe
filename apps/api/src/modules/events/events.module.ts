import { Module } from '@nestjs/common';
import { OperatorGuard } from '../../common/auth';
import { DeadLettersController } from './dead-letters.controller';
import { DeadLettersService } from './dead-letters.service';

/** The dead-letter queue's API side: backlog metric and the operator's re-drive. */
@Module({ controllers: [DeadLettersController], providers: [DeadLettersService, OperatorGuard] })
export class EventsModule {}
