import { Controller, Delete, Get, HttpCode, Param, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZBody } from '../../common/zod';
import { UpdateMemberDto } from './members.dto';
import { MembersService } from './members.service';
import { UuidParam } from '../../common/uuid-param.pipe';

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1/orgs/:org/members')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  /** Every member of the org (pending invitations are listed under /invitations). */
  @Get()
  @OrgRoles(Roles.any)
  list(@CurrentOrg() org: OrgContext) {
    return this.members.list(org);
  }

  /** Body `{role}`. Only an owner grants or removes the owner role; the last owner stays. */
  @Patch(':userId')
  @OrgRoles(Roles.manage)
  update(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('userId', new UuidParam('Member')) userId: string,
    @ZBody(UpdateMemberDto) dto: UpdateMemberDto,
  ) {
    return this.members.changeRole(user, org, userId, dto);
  }

  /** Owners and admins remove members; any member may remove themselves (leave the org). */
  @Delete(':userId')
  @OrgRoles(Roles.any)
  @HttpCode(204)
  async remove(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('userId', new UuidParam('Member')) userId: string,
  ): Promise<void> {
    await this.members.remove(user, org, userId);
  }
}
