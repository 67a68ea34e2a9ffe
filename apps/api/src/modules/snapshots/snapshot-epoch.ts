import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { redisKeys } from '@toolgate/contracts';
import { RedisService } from '../../infra/redis.service';

/** What a look at the epoch key found. */
export enum EpochCheck {
  /** The epoch this process knows: Redis kept its data. */
  Unchanged = 'unchanged',
  /** Redis has an epoch and this process had none (boot, or just after a loss): taken as is. */
  Adopted = 'adopted',
  /** No epoch: Redis lost its data. Snapshot writes stay fenced until a sweep establishes one. */
  Missing = 'missing',
  /** Another API instance established a new epoch: Redis lost its data since our last look. */
  Replaced = 'replaced',
}

/**
 * The API's view of `redisKeys.snapshotEpoch`: which Redis "life" its snapshots are written
 * into. Only a sweep that has written every known tombstone back establishes a new epoch
 * (`establish`), so while a reset Redis has no epoch no snapshot can land in it: a snapshot of
 * an org deleted meanwhile is refused by its tombstone, never written before it. Instances agree
 * through SET NX; the others adopt the winner's epoch.
 */
@Injectable()
export class SnapshotEpoch {
  private known: string | null = null;
  private checking: Promise<EpochCheck> | null = null;
  private readonly resetListeners = new Set<() => void>();

  constructor(private readonly redis: RedisService) {}

  /** The epoch snapshot writes are fenced on; null while unknown or missing. */
  get current(): string | null {
    return this.known;
  }

  /** Called after every look that found Redis lost its data (Missing or Replaced). */
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

  /** Name a new epoch, or adopt the one another instance named first. Call only after the tombstones are back. */
  async establish(): Promise<string> {
    await this.redis.client.set(redisKeys.snapshotEpoch, randomUUID(), 'NX');
    const epoch = await this.redis.client.get(redisKeys.snapshotEpoch);
    if (epoch === null) throw new Error('the snapshot epoch vanished right after it was written');
    this.known = epoch;
    return epoch;
  }

  private async look(): Promise<EpochCheck> {
    const outcome = this.compare(await this.redis.client.get(redisKeys.snapshotEpoch));
    if (outcome === EpochCheck.Missing || outcome === EpochCheck.Replaced) for (const l of this.resetListeners) l();
    return outcome;
  }

  private compare(seen: string | null): EpochCheck {
    const before = this.known;
    this.known = seen;
    if (seen === null) return EpochCheck.Missing;
    if (seen === before) return EpochCheck.Unchanged;
    return before === null ? EpochCheck.Adopted : EpochCheck.Replaced;
  }
}
