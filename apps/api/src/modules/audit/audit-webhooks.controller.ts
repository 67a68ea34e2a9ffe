import { Controller, Delete, Get, Header, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { UuidParam } from '../../common/uuid-param.pipe';
import { ZBody, ZQuery } from '../../common/zod';
import { CreateWebhookDto, ListDeliveriesQuery } from './audit.dto';
import { AuditWebhooksService } from './audit-webhooks.service';

const WebhookId = new UuidParam('Audit webhook');

/** SIEM webhooks of the audit chain. Read: owner, admin, member; create/delete: owner, admin. */
@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/orgs/:org/audit/webhooks')
export class AuditWebhooksController {
  constructor(private readonly webhooks: AuditWebhooksService) {}

  @Get()
  @OrgRoles(Roles.read)
  list(@CurrentOrg() org: OrgContext) {
    return this.webhooks.list(org.id);
  }

  /** The response carries the signing `secret` (HMAC-SHA256, see X-Toolgate-Signature), shown this once only. */
  @Post()
  @OrgRoles(Roles.manage)
  @Header('Cache-Control', 'no-store')
  create(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @ZBody(CreateWebhookDto) dto: CreateWebhookDto) {
    return this.webhooks.create(user, org, dto);
  }

  @Delete(':id')
  @OrgRoles(Roles.manage)
  @HttpCode(204)
  async remove(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @Param('id', WebhookId) id: string): Promise<void> {
    await this.webhooks.remove(user, org, id);
  }

  /** The delivery log, newest first. */
  @Get(':id/deliveries')
  @OrgRoles(Roles.read)
  deliveries(
    @CurrentOrg() org: OrgContext,
    @Param('id', WebhookId) id: string,
    @ZQuery(ListDeliveriesQuery) q: z.output<typeof ListDeliveriesQuery>,
  ) {
    return this.webhooks.deliveries(org.id, id, q);
  }
}
