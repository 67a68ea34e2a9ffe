import { Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { UuidParam } from '../../common/uuid-param.pipe';
import { ZBody, ZQuery } from '../../common/zod';
import {
  CreateServerDto,
  type CreateServerInput,
  type ListServersInput,
  ListServersQuery,
  UpdateServerDto,
  type UpdateServerInput,
} from './servers.dto';
import { ServersService } from './servers.service';

const ServerIdPipe = new UuidParam('Server');

/** The org's MCP server registry. Members read; owners and admins change and probe. */
@ApiTags('servers')
@ApiBearerAuth()
@Controller('v1/orgs/:org/servers')
export class ServersController {
  constructor(private readonly servers: ServersService) {}

  @Get()
  @OrgRoles(Roles.read)
  list(@CurrentOrg() org: OrgContext, @ZQuery(ListServersQuery) q: ListServersInput) {
    return this.servers.list(org, q);
  }

  @Post()
  @OrgRoles(Roles.manage)
  create(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @ZBody(CreateServerDto) dto: CreateServerInput) {
    return this.servers.create(user, org, dto);
  }

  @Get(':id')
  @OrgRoles(Roles.read)
  get(@CurrentOrg() org: OrgContext, @Param('id', ServerIdPipe) id: string) {
    return this.servers.get(org, id);
  }

  @Patch(':id')
  @OrgRoles(Roles.manage)
  update(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('id', ServerIdPipe) id: string,
    @ZBody(UpdateServerDto) dto: UpdateServerInput,
  ) {
    return this.servers.update(user, org, id, dto);
  }

  @Delete(':id')
  @OrgRoles(Roles.manage)
  @HttpCode(204)
  async remove(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @Param('id', ServerIdPipe) id: string): Promise<void> {
    await this.servers.remove(user, org, id);
  }

  /**
   * A gateway worker connects to the server and the catalog is refreshed; 502 `probe_failed` with
   * the reason if it cannot, 503 `probe_unavailable` if no worker takes the probe.
   */
  @Post(':id/probe')
  @OrgRoles(Roles.manage)
  @HttpCode(200)
  probe(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @Param('id', ServerIdPipe) id: string) {
    return this.servers.probe(user, org, id);
  }
}
