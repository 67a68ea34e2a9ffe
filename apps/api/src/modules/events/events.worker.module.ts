import { Module } from '@nestjs/common';
import { DeadLetterRedriver } from './dead-letter.redriver';

/** Automatic dead-letter re-drives (worker entry point). */
@Module({ providers: [DeadLetterRedriver], exports: [DeadLetterRedriver] })
export class EventsWorkerModule {}
