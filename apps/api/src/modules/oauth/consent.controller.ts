import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ConsentApproval, ConsentOutcome, ConsentRequestView } from '@toolgate/contracts';
import type { z } from 'zod';
import { Authed, type AuthUser, CurrentUser } from '../../common/auth';
import { UuidParam } from '../../common/uuid-param.pipe';
import { ZBody, ZOk } from '../../common/zod';
import { ConsentService } from './consent.service';

const RequestId = new UuidParam('Authorization request');

/** The dashboard's consent page (CONSENT_PATH) reads a pending /authorize request and decides it. */
@ApiTags('oauth')
@ApiBearerAuth()
@Authed()
@Controller('v1/oauth/requests')
export class ConsentController {
  constructor(private readonly consent: ConsentService) {}

  @Get(':id')
  @ZOk(ConsentRequestView)
  view(@CurrentUser() user: AuthUser, @Param('id', RequestId) id: string) {
    return this.consent.view(user, id);
  }

  /** Grants the chosen roles of one org (owner or admin only); answers where the browser goes next. */
  @Post(':id/approve')
  @HttpCode(200)
  @ZOk(ConsentOutcome)
  approve(
    @CurrentUser() user: AuthUser,
    @Param('id', RequestId) id: string,
    @ZBody(ConsentApproval) dto: z.output<typeof ConsentApproval>,
  ) {
    return this.consent.approve(user, id, dto);
  }

  @Post(':id/deny')
  @HttpCode(200)
  @ZOk(ConsentOutcome)
  deny(@CurrentUser() user: AuthUser, @Param('id', RequestId) id: string) {
    return this.consent.deny(user, id);
  }
}
