import { Controller, Delete, Get, HttpCode, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { OAuthGrantView } from '@toolgate/contracts';
import { z } from 'zod';
import { type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { UuidParam } from '../../common/uuid-param.pipe';
import { ZOk, ZQuery } from '../../common/zod';
import { GrantsService } from './grants.service';

const GrantId = new UuidParam('OAuth grant');

const ListGrantsQuery = z.object({ status: z.enum(['active', 'all']).default('active') }).strict();

/** "Connected apps": the org's OAuth grants. Members may see them; owners and admins revoke. */
@ApiTags('oauth')
@ApiBearerAuth()
@Controller('v1/orgs/:org/oauth/grants')
export class GrantsController {
  constructor(private readonly grants: GrantsService) {}

  /** `?status=active` (default: live grants) or `all` (revoked ones too), newest first. */
  @Get()
  @OrgRoles(Roles.read)
  @ZOk(z.array(OAuthGrantView))
  list(@CurrentOrg() org: OrgContext, @ZQuery(ListGrantsQuery) query: z.output<typeof ListGrantsQuery>) {
    return this.grants.list(org, query.status === 'all');
  }

  /** Revokes the grant and every token it issued; the gateway refuses them within a second. Idempotent. */
  @Delete(':id')
  @OrgRoles(Roles.manage)
  @HttpCode(204)
  async revoke(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @Param('id', GrantId) id: string): Promise<void> {
    await this.grants.revokeByMember(user, org, id);
  }
}
