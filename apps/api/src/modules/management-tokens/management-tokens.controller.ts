import { Controller, Delete, Get, Header, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CreatePersonalTokenRequest, CreateServiceAccountTokenRequest } from '@toolgate/contracts';
import type { z } from 'zod';
import { Authed, type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { UuidParam } from '../../common/uuid-param.pipe';
import { ZBody } from '../../common/zod';
import { ManagementTokensService } from './management-tokens.service';

const TokenId = new UuidParam('Token');

/** Org service accounts: tokens owned by the org, with no person behind them. Owners and admins. */
@ApiTags('management tokens')
@ApiBearerAuth()
@Controller('v1/orgs/:org/tokens')
export class OrgTokensController {
  constructor(private readonly tokens: ManagementTokensService) {}

  @Get()
  @OrgRoles(Roles.manage)
  list(@CurrentOrg() org: OrgContext) {
    return this.tokens.listServiceAccounts(org);
  }

  /** The response carries the secret `token`, shown this once only. */
  @Post()
  @OrgRoles(Roles.manage)
  @Header('Cache-Control', 'no-store')
  create(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @ZBody(CreateServiceAccountTokenRequest) dto: z.output<typeof CreateServiceAccountTokenRequest>,
  ) {
    return this.tokens.createServiceAccount(user, org, dto);
  }

  /** Revokes the token (idempotent); its next request is refused. The row stays, for the activity log. */
  @Delete(':id')
  @OrgRoles(Roles.manage)
  @HttpCode(204)
  async revoke(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @Param('id', TokenId) id: string): Promise<void> {
    await this.tokens.revokeServiceAccount(user, org, id);
  }
}

/** Personal access tokens: the signed-in person's own, each bound to one org they belong to. */
@ApiTags('management tokens')
@ApiBearerAuth()
@Controller('v1/me/tokens')
export class MyTokensController {
  constructor(private readonly tokens: ManagementTokensService) {}

  @Get()
  @Authed({ personalTokens: true })
  list(@CurrentUser() user: AuthUser) {
    return this.tokens.listPersonal(user);
  }

  /** Body `{name, org, scopes, expiresInDays?}`; the response carries the secret `token`, shown once. */
  @Post()
  @Authed()
  @Header('Cache-Control', 'no-store')
  create(@CurrentUser() user: AuthUser, @ZBody(CreatePersonalTokenRequest) dto: z.output<typeof CreatePersonalTokenRequest>) {
    return this.tokens.createPersonal(user, dto);
  }

  @Delete(':id')
  @Authed({ personalTokens: true })
  @HttpCode(204)
  async revoke(@CurrentUser() user: AuthUser, @Param('id', TokenId) id: string): Promise<void> {
    await this.tokens.revokePersonal(user, id);
  }
}

/** The calling token itself (either kind): lets a tool learn which org a token is bound to without listing orgs. */
@ApiTags('management tokens')
@ApiBearerAuth()
@Controller('v1/tokens/current')
export class CurrentTokenController {
  constructor(private readonly tokens: ManagementTokensService) {}

  @Get()
  @Authed({ anyToken: true })
  current(@CurrentUser() user: AuthUser) {
    return this.tokens.current(user);
  }
}
