import { Controller, Header, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { UuidParam } from '../../common/uuid-param.pipe';
import { ZBody } from '../../common/zod';
import { TryItDto } from './try-it.dto';
import { TryItService } from './try-it.service';

const ServerIdPipe = new UuidParam('Server');

@ApiTags('servers')
@ApiBearerAuth()
@Controller('v1/orgs/:org/servers/:id/try')
export class TryItController {
  constructor(private readonly tryIt: TryItService) {}

  /**
   * Calls one tool of the server through the gateway as a role or as an existing key (owners and
   * admins only): the result, the policy decision and the audit entry. A denial is a 200 with
   * outcome `denied`; 503 `gateway_unavailable` when the gateway cannot be reached, 502
   * `upstream_unavailable` when the server behind it does not answer.
   */
  @Post()
  @OrgRoles(Roles.manage)
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  run(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('id', ServerIdPipe) id: string,
    @ZBody(TryItDto) dto: z.output<typeof TryItDto>,
  ) {
    return this.tryIt.run(user, org, id, dto);
  }
}
