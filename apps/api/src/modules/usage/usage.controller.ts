import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { CurrentOrg, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZQuery } from '../../common/zod';
import { AlertsQuery, UsageQuery } from './usage.dto';
import { UsageService } from './usage.service';

/** Every member reads usage, billing members included (they pay for it). */
@ApiTags('usage')
@ApiBearerAuth()
@Controller('v1/orgs/:org/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  /**
   * Totals and a series over `[from, to)` (whole UTC hours), grouped by `key`, `server`, `tool`
   * (server + name), `day` or `hour` (time buckets are gap-filled with zeros).
   */
  @Get()
  @OrgRoles(Roles.any)
  get(@CurrentOrg() org: OrgContext, @ZQuery(UsageQuery) q: z.output<typeof UsageQuery>) {
    return this.usage.usage(org, q);
  }

  /** This month's billable calls against the quota, and the 80% / 100% alerts raised. */
  @Get('alerts')
  @OrgRoles(Roles.any)
  alerts(@CurrentOrg() org: OrgContext, @ZQuery(AlertsQuery) q: z.output<typeof AlertsQuery>) {
    return this.usage.alerts(org, q);
  }
}
