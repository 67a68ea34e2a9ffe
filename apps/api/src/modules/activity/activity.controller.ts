import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { CurrentOrg, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZQuery } from '../../common/zod';
import { ActivityService } from './activity.service';

const ActivityQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    before: z.coerce.date().optional(),
    action: z.string().max(64).optional(),
  })
  .strict();

@ApiTags('activity')
@Controller('v1/orgs/:org/activity')
export class ActivityController {
  constructor(private readonly activity: ActivityService) {}

  @Get()
  @OrgRoles(Roles.manage)
  async list(@CurrentOrg() org: OrgContext, @ZQuery(ActivityQuery) q: z.output<typeof ActivityQuery>) {
    const items = await this.activity.list(org.id, q);
    const last = items.at(-1);
    return { items, nextBefore: items.length === q.limit && last ? last.createdAt.toISOString() : null };
  }
}
