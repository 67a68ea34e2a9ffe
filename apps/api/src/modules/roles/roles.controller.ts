import { Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZBody, ZQuery } from '../../common/zod';
import { type DeleteRoleOptions, DeleteRoleQuery, UpsertRoleDto } from './roles.dto';
import { RolesService } from './roles.service';
import { UuidParam } from '../../common/uuid-param.pipe';

/** Agent roles: named sets of allow/deny rules that API keys hold. */
@ApiTags('roles')
@ApiBearerAuth()
@Controller('v1/orgs/:org/roles')
export class RolesController {
  constructor(private readonly roles: RolesService) {}

  @Get()
  @OrgRoles(Roles.read)
  list(@CurrentOrg() org: OrgContext) {
    return this.roles.list(org);
  }

  @Get(':id')
  @OrgRoles(Roles.read)
  get(@CurrentOrg() org: OrgContext, @Param('id', new UuidParam('Role')) id: string) {
    return this.roles.get(org, id);
  }

  @Post()
  @OrgRoles(Roles.manage)
  create(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @ZBody(UpsertRoleDto) dto: UpsertRoleDto) {
    return this.roles.create(user, org, dto);
  }

  /** Full replace: name, description (omitted = cleared) and rules. */
  @Put(':id')
  @OrgRoles(Roles.manage)
  replace(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('id', new UuidParam('Role')) id: string,
    @ZBody(UpsertRoleDto) dto: UpsertRoleDto,
  ) {
    return this.roles.replace(user, org, id, dto);
  }

  /** 409 while non-revoked keys hold the role, unless `?force=true` detaches it from them. */
  @Delete(':id')
  @OrgRoles(Roles.manage)
  @HttpCode(204)
  async remove(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('id', new UuidParam('Role')) id: string,
    @ZQuery(DeleteRoleQuery) query: DeleteRoleOptions,
  ): Promise<void> {
    await this.roles.remove(user, org, id, query);
  }
}
