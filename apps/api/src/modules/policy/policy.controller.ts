import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZBody } from '../../common/zod';
import { PolicyService } from './policy.service';
import { SimulateDto } from './simulate.dto';

@ApiTags('policy')
@ApiBearerAuth()
@Controller('v1/orgs/:org/policy')
export class PolicyController {
  constructor(private readonly policy: PolicyService) {}

  /**
   * Dry-runs one agent call against the org's current snapshot with the same decide() the
   * gateway runs. A denial is a normal answer (200 with `allowed: false`), not an error.
   */
  @Post('simulate')
  @OrgRoles(Roles.read)
  @HttpCode(200)
  simulate(@CurrentOrg() org: OrgContext, @ZBody(SimulateDto) dto: SimulateDto) {
    return this.policy.simulate(org, dto);
  }
}
