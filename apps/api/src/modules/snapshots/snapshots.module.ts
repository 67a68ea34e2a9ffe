import { Global, Module } from '@nestjs/common';
import { OrgChangeService } from './org-change.service';
import { SnapshotService } from './snapshot.service';
import { SnapshotsController } from './snapshots.controller';

@Global()
@Module({
  controllers: [SnapshotsController],
  providers: [SnapshotService, OrgChangeService],
  exports: [SnapshotService, OrgChangeService],
})
export class SnapshotsModule {}
