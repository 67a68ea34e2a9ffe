import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentOrg, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { Problem } from '../../common/problem';
import { SnapshotService } from './snapshot.service';

@ApiTags('policy')
@Controller('v1/orgs/:org/snapshot')
export class SnapshotsController {
  constructor(private readonly snapshots: SnapshotService) {}

  /** The latest compiled snapshot. Sealed secrets stay sealed; key hashes are included. */
  @Get()
  @OrgRoles(Roles.manage)
  async get(@CurrentOrg() org: OrgContext) {
    const row = await this.snapshots.latest(org.id);
    if (!row) throw Problem.notFound('Snapshot');
    return { version: row.version, createdAt: row.createdAt, publishedAt: row.publishedAt, snapshot: row.snapshot };
  }
}
