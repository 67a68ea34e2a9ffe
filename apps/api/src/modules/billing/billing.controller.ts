import { Controller, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { type AuthUser, CurrentOrg, CurrentUser, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZBody, ZQuery } from '../../common/zod';
import { InvoicesQuery, UpdateBillingDto } from './billing.dto';
import { BillingService } from './billing.service';

/** Billing is for owners and billing members only (admins and members get 403). */
@ApiTags('billing')
@ApiBearerAuth()
@Controller('v1/orgs/:org/billing')
export class BillingController {
  constructor(private readonly billing: BillingService) {}

  /** Plan, status, current period usage, the local estimate and Stripe's upcoming invoice; `mode` says which. */
  @Get()
  @OrgRoles(Roles.billing)
  get(@CurrentOrg() org: OrgContext) {
    return this.billing.view(org);
  }

  /** Alert webhook URL and the org's price for the local estimate. */
  @Patch()
  @OrgRoles(Roles.billing)
  update(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext, @ZBody(UpdateBillingDto) dto: UpdateBillingDto) {
    return this.billing.update(user, org, dto);
  }

  /** Creates the Stripe customer and metered subscription (idempotent). 409 when Stripe is not configured. */
  @Post('enable')
  @HttpCode(200)
  @OrgRoles(Roles.billing)
  enable(@CurrentUser() user: AuthUser, @CurrentOrg() org: OrgContext) {
    return this.billing.enable(user, org);
  }

  /** Newest first; refreshed from Stripe when configured. */
  @Get('invoices')
  @OrgRoles(Roles.billing)
  invoices(@CurrentOrg() org: OrgContext, @ZQuery(InvoicesQuery) q: z.output<typeof InvoicesQuery>) {
    return this.billing.invoices(org, q);
  }
}
