import { Controller, Delete, Get, Header, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import type { z } from 'zod';
import { ZBody, ZQuery } from '../../common/zod';
import { CreateKeyDto, ListKeysQuery, RotateKeyDto, UpdateKeyDto } from './keys.dto';
import { KeysService } from './keys.service';
import { UuidParam } from '../../common/uuid-param.pipe';

const KeyId = new UuidParam('API key');

@ApiTags('keys')
@ApiBearerAuth()
@Controller('v1/orgs/:org/keys')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  /**
   * `?status=active|expired|revoked|all` (default all), newest first. (The parameter is typed
   * with z.output, not the same-named type, so its reflected type is Object: Swagger would
   * otherwise try to explore the zod schema as a class.)
   */
  @Get()
  @OrgRoles(Roles.read)
  list(@CurrentOrg() org: OrgContext, @ZQuery(ListKeysQuery) query: z.output<typeof ListKeysQuery>) {
    return this.keys.list(org, query);
  }

  /** Creates a key; the response carries the secret `key`, shown this once only. */
  @Post()
  @OrgRoles(Roles.manage)
  @Header('Cache-Control', 'no-store')
  create(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @ZBody(CreateKeyDto) dto: CreateKeyDto) {
    return this.keys.create(user, org, dto);
  }

  @Get(':id')
  @OrgRoles(Roles.read)
  get(@CurrentOrg() org: OrgContext, @Param('id', KeyId) id: string) {
    return this.keys.get(org, id);
  }

  @Patch(':id')
  @OrgRoles(Roles.manage)
  update(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('id', KeyId) id: string,
    @ZBody(UpdateKeyDto) dto: UpdateKeyDto,
  ) {
    return this.keys.update(user, org, id, dto);
  }

  /** Issues a new secret for the key and revokes the old one; the new secret is shown once. */
  @Post(':id/rotate')
  @OrgRoles(Roles.manage)
  @HttpCode(201)
  @Header('Cache-Control', 'no-store')
  rotate(
    @CurrentUser() user: AuthUser,
    @CurrentOrg() org: OrgContext,
    @Param('id', KeyId) id: string,
    @ZBody(RotateKeyDto) dto: RotateKeyDto,
  ) {
    return this.keys.rotate(user, org, id, dto);
  }

  /** Revokes the key (idempotent). The row stays, for audit. */
  @Delete(':id')
  @OrgRoles(Roles.manage)
  @HttpCode(204)
  async revoke(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @Param('id', KeyId) id: string): Promise<void> {
    await this.keys.revoke(user, org, id);
  }
}
