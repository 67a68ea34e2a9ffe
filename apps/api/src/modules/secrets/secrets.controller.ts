import { Controller, Delete, Get, HttpCode, Param, Put, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZBody } from '../../common/zod';
import { SecretNameParam } from './secret-name.pipe';
import { PutSecretDto } from './secrets.dto';
import { SecretsService } from './secrets.service';

const ExistingName = new SecretNameParam('not-found');
const NewName = new SecretNameParam('invalid');

@ApiTags('secrets')
@ApiBearerAuth()
@Controller('v1/orgs/:org/secrets')
export class SecretsController {
  constructor(private readonly secrets: SecretsService) {}

  /** Metadata of every secret and the servers that use it; values are never returned. */
  @Get()
  @OrgRoles(Roles.read)
  list(@CurrentOrg() org: OrgContext) {
    return this.secrets.list(org);
  }

  @Get(':name')
  @OrgRoles(Roles.read)
  get(@CurrentOrg() org: OrgContext, @Param('name', ExistingName) name: string) {
    return this.secrets.get(org, name);
  }

  /** Create (201) or replace (200) the secret's value. */
  @Put(':name')
  @OrgRoles(Roles.manage)
  async put(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('name', NewName) name: string,
    @ZBody(PutSecretDto) dto: PutSecretDto,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { created, secret } = await this.secrets.put(user, org, name, dto);
    res.status(created ? 201 : 200);
    return secret;
  }

  /** Refused with 409 while a server references the secret. */
  @Delete(':name')
  @OrgRoles(Roles.manage)
  @HttpCode(204)
  async remove(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @Param('name', ExistingName) name: string): Promise<void> {
    await this.secrets.remove(user, org, name);
  }
}
