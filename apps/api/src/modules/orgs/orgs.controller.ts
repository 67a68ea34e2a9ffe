import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Authed, type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZBody } from '../../common/zod';
import { CreateOrgDto, DeleteOrgDto, UpdateOrgDto } from './orgs.dto';
import { OrgsService } from './orgs.service';

@ApiTags('orgs')
@ApiBearerAuth()
@Controller('v1/orgs')
export class OrgsController {
  constructor(private readonly orgs: OrgsService) {}

  /** With a personal token: only the org the token is bound to. */
  @Get()
  @Authed({ personalTokens: true })
  list(@CurrentUser() user: AuthUser) {
    return this.orgs.list(user);
  }

  @Post()
  @Authed()
  create(@CurrentUser() user: AuthUser, @ZBody(CreateOrgDto) dto: CreateOrgDto) {
    return this.orgs.create(user, dto);
  }

  @Get(':org')
  @OrgRoles(Roles.any)
  get(@CurrentOrg() org: OrgContext) {
    return this.orgs.get(org);
  }

  @Patch(':org')
  @OrgRoles(Roles.manage)
  update(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @ZBody(UpdateOrgDto) dto: UpdateOrgDto) {
    return this.orgs.update(user, org, dto);
  }

  /** Body `{confirm: "<slug>"}` guards against deleting the wrong org. */
  @Delete(':org')
  @OrgRoles(Roles.owner)
  @HttpCode(204)
  async remove(@CurrentOrg() org: OrgContext, @ZBody(DeleteOrgDto) dto: DeleteOrgDto): Promise<void> {
    await this.orgs.remove(org, dto);
  }
}
