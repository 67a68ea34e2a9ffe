import { Global, Module } from '@nestjs/common';
import { OrgChangeService } from './org-change.service';
import { SnapshotEpoch } from './snapshot-epoch';
import { SnapshotReconciler } from './snapshot-reconciler.service';
import { SnapshotService } from './snapshot.service';
import { SnapshotsController } from './snapshots.controller';
import { SnapshotsRepository } from './snapshots.repository';

@Global()
@Module({
  controllers: [SnapshotsController],
  providers: [SnapshotService, OrgChangeService, SnapshotsRepository, SnapshotEpoch, SnapshotReconciler],
  exports: [SnapshotService, OrgChangeService],
})
export class SnapshotsModule {}
