import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { UuidParam } from '../../common/uuid-param.pipe';
import { PolicyService } from './policy.service';

const KeyId = new UuidParam('API key');

/** Lives with the simulator (same snapshot, same decide()), under the key's own path. */
@ApiTags('keys')
@ApiBearerAuth()
@Controller('v1/orgs/:org/keys')
export class EffectivePolicyController {
  constructor(private readonly policy: PolicyService) {}

  /** The tools, prompts and resources of the org's enabled servers this key may call, and why. */
  @Get(':id/effective')
  @OrgRoles(Roles.read)
  effective(@CurrentOrg() org: OrgContext, @Param('id', KeyId) id: string) {
    return this.policy.effective(org, id);
  }
}
