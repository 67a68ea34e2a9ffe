import { Module } from '@nestjs/common';
import { CurrentTokenController, MyTokensController, OrgTokensController } from './management-tokens.controller';
import { ManagementTokensRepository } from './management-tokens.repository';
import { ManagementTokensService } from './management-tokens.service';

@Module({
  controllers: [OrgTokensController, MyTokensController, CurrentTokenController],
  providers: [ManagementTokensService, ManagementTokensRepository],
})
export class ManagementTokensModule {}
