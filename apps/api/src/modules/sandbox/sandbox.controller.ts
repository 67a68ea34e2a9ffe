import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentOrg, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { ZOk } from '../../common/zod';
import { SandboxView } from '@toolgate/contracts';
import { SandboxService } from './sandbox.service';

/**
 * Whether tenant stdio servers run confined, and which launchers they may use. The same for every
 * org of a deployment; under an org so that only its members (those who may see its servers) ask.
 */
@ApiTags('servers')
@ApiBearerAuth()
@Controller('v1/orgs/:org/sandbox')
export class SandboxController {
  constructor(private readonly sandbox: SandboxService) {}

  @Get()
  @OrgRoles(Roles.read)
  @ZOk(SandboxView)
  get(@CurrentOrg() _org: OrgContext) {
    return this.sandbox.view();
  }
}
