import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { OperatorOnly } from '../../common/auth';
import { ZBody } from '../../common/zod';
import { RedriveDto } from './dead-letters.dto';
import { DeadLettersService } from './dead-letters.service';

/** Operator actions on the dead-letter queue (cross-tenant: OPERATOR_TOKEN, not an org role). */
@ApiTags('ops')
@ApiBearerAuth()
@Controller('v1/ops/dead-letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLettersService) {}

  /** Puts dead letters back on their queues now (safe to repeat: consumers skip stored event ids). */
  @Post('redrive')
  @HttpCode(200)
  @OperatorOnly()
  redrive(@ZBody(RedriveDto) dto: RedriveDto) {
    return this.deadLetters.redriveNow(dto);
  }
}
