import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { redisKeys } from '@toolgate/contracts';
import { RedisService } from '../../infra/redis.service';

/** What a look at the epoch key found. */
export enum EpochCheck {
  /** The epoch this process knows: Redis kept its data. */
  Unchanged = 'unchanged',
  /** First look since boot, and Redis has an epoch: adopted; the periodic reconcile covers drift. */
  Adopted = 'adopted',
  /** Missing (now created) or replaced by another API instance: Redis lost its data. */
  Reset = 'reset',
}

/**
 * The API's view of `redisKeys.snapshotEpoch`: which Redis "life" its snapshots were written
 * into. Instances agree through SET NX: the first to find the key missing names the new epoch
 * and the others adopt it (and republish too: harmless, every write is idempotent).
 */
@Injectable()
export class SnapshotEpoch {
  private known: string | null = null;
  private checking: Promise<EpochCheck> | null = null;
  private readonly resetListeners = new Set<() => void>();

  constructor(private readonly redis: RedisService) {}

  /** The epoch snapshot writes are fenced on; null until the first check succeeded. */
  get current(): string | null {
    return this.known;
  }

  /** Called after every check that found Redis reset (whoever asked for the check). */
  onReset(listener: () => void): () => void {
    this.resetListeners.add(listener);
    return () => this.resetListeners.delete(listener);
  }

  /** Look at the epoch key (one look at a time; callers meanwhile share it). Throws if Redis is unreachable. */
  check(): Promise<EpochCheck> {
    this.checking ??= this.look().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async look(): Promise<EpochCheck> {
    const outcome = await this.compare();
    if (outcome === EpochCheck.Reset) for (const l of this.resetListeners) l();
    return outcome;
  }

  private async compare(): Promise<EpochCheck> {
    const seen = await this.redis.client.get(redisKeys.snapshotEpoch);
    if (seen !== null && seen === this.known) return EpochCheck.Unchanged;
    if (seen !== null && this.known === null) {
      this.known = seen;
      return EpochCheck.Adopted;
    }
    this.known = seen ?? (await this.create());
    return EpochCheck.Reset;
  }

  /** Name a new epoch, or learn the one another instance named a moment earlier. */
  private async create(): Promise<string> {
    await this.redis.client.set(redisKeys.snapshotEpoch, randomUUID(), 'NX');
    const epoch = await this.redis.client.get(redisKeys.snapshotEpoch);
    if (epoch === null) throw new Error('the snapshot epoch vanished right after it was written');
    return epoch;
  }
}
