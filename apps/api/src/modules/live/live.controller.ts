import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, CurrentUser, type AuthUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { LiveTickets } from './live.tickets';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/orgs/:org/audit')
export class LiveTicketController {
  constructor(private readonly tickets: LiveTickets) {}

  /**
   * A single-use ticket (valid ~30 s) for the live audit WebSocket: open `${url}?ticket=${ticket}`
   * from an allowed origin (CORS_ORIGINS) and receive `{type:'audit', events}` frames of this org.
   * Readable by owner, admin and member, like the audit log itself.
   */
  @Post('live-ticket')
  @HttpCode(200)
  @OrgRoles(Roles.read)
  ticket(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext) {
    return this.tickets.issue({ userId: user.id, orgId: org.id });
  }
}
