import { Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Authed, type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZBody } from '../../common/zod';
import { UuidParam } from '../../common/uuid-param.pipe';
import { AcceptInvitationDto, CreateInvitationDto } from './invitations.dto';
import { InvitationsService } from './invitations.service';

@ApiTags('invitations')
@ApiBearerAuth()
@Controller('v1')
export class InvitationsController {
  constructor(private readonly invitations: InvitationsService) {}

  /** Body `{email, role}`. The response carries the token and `acceptUrl` once; only owners invite owners. */
  @Post('orgs/:org/invitations')
  @OrgRoles(Roles.manage)
  create(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @ZBody(CreateInvitationDto) dto: CreateInvitationDto) {
    return this.invitations.create(user, org, dto);
  }

  /** Pending (unaccepted, unexpired) invitations; never their tokens. */
  @Get('orgs/:org/invitations')
  @OrgRoles(Roles.manage)
  list(@CurrentOrg() org: OrgContext) {
    return this.invitations.listPending(org);
  }

  @Delete('orgs/:org/invitations/:id')
  @OrgRoles(Roles.manage)
  @HttpCode(204)
  async revoke(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('id', new UuidParam('Invitation')) id: string,
  ): Promise<void> {
    await this.invitations.revoke(user, org, id);
  }

  /** Public: the token is the credential. Org name, invited email and role, for the accept page. */
  @Get('invitations/:token')
  preview(@Param('token') token: string) {
    return this.invitations.preview(token);
  }

  /** The logged-in user (whose email the invitation names) joins; answers the org and role. */
  @Post('invitations/:token/accept')
  @Authed()
  @HttpCode(200)
  accept(@CurrentUser() user: AuthUser, @Param('token') token: string, @ZBody(AcceptInvitationDto) _body: AcceptInvitationDto) {
    return this.invitations.accept(user, token);
  }
}
