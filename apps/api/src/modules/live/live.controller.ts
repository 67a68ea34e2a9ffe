import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, CurrentUser, type AuthUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ErrorCode, Problem } from '../../common/problem';
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
    // The socket re-checks the person's membership, not a token's revocation: it is a dashboard feature.
    if (user.token) {
      throw new Problem(403, ErrorCode.SessionRequired, 'The live audit stream needs a signed-in session; use GET /audit with a token');
    }
    return this.tickets.issue({ userId: user.id, orgId: org.id });
  }
}
