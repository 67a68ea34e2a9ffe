import { Module } from '@nestjs/common';
import { TryItController } from './try-it.controller';
import { TryItRepository } from './try-it.repository';
import { TryItService } from './try-it.service';

@Module({ controllers: [TryItController], providers: [TryItService, TryItRepository] })
export class TryItModule {}
