import { Injectable } from '@nestjs/common';
import type { Tx } from '@toolgate/db';
import { PrismaService } from '../../infra/prisma.service';
import { ActivityService, type ActivityEntry } from '../activity/activity.service';
import { type CompiledSnapshot, SnapshotService } from './snapshot.service';

export interface ChangeOptions {
  /**
   * Recompile and publish the org's snapshot (keys, grants, roles, servers, secrets, plan). A
   * function is asked after the mutation, for changes that touch the data plane only sometimes.
   */
  affectsDataPlane: boolean | (() => boolean);
}

/**
 * The one way to change an org: run the mutation, its activity entries and (when the data plane
 * is affected) the snapshot compile in one transaction, then publish after the commit.
 */
@Injectable()
export class OrgChangeService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly activity: ActivityService,
    private readonly snapshots: SnapshotService,
  ) {}

  async run<T>(
    orgId: string,
    actorId: string | null,
    options: ChangeOptions,
    fn: (tx: Tx, log: (entry: Omit<ActivityEntry, 'orgId' | 'actorId'>) => Promise<void>) => Promise<T>,
  ): Promise<T> {
    let compiled: CompiledSnapshot | null = null;
    const result = await this.prisma.db.$transaction(
      async (tx) => {
        const value = await fn(tx, (entry) => this.activity.record(tx, { ...entry, orgId, actorId }));
        const affects = typeof options.affectsDataPlane === 'function' ? options.affectsDataPlane() : options.affectsDataPlane;
        if (affects) compiled = await this.snapshots.compileInTx(tx, orgId, actorId);
        return value;
      },
      { timeout: 15_000 },
    );
    if (compiled) await this.snapshots.publish(compiled);
    return result;
  }
}
