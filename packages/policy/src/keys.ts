import type { PolicySnapshot, SnapshotKey } from '@toolgate/contracts';
import { compiledPolicy } from './compiled';

/**
 * The snapshot key whose `hash` is `sha256hex` (lowercase hex of the full secret), or null.
 * O(1) via a Map built once per snapshot. A Map lookup is not constant-time, which is fine here:
 * the lookup value is a SHA-256 of a high-entropy secret, so timing reveals nothing usable about
 * any key. Revoked keys are never in a snapshot; check expiry with checkKey().
 */
export function findKeyByHash(snapshot: PolicySnapshot, sha256hex: string): SnapshotKey | null {
  return compiledPolicy(snapshot).keysByHash.get(sha256hex.toLowerCase()) ?? null;
}

export type KeyStatus = 'ok' | 'expired';

/** 'expired' from the instant `expiresAt` is reached (`now >= expiresAt`); keys without expiry never expire. */
export function checkKey(key: SnapshotKey, now: Date | number = Date.now()): KeyStatus {
  if (key.expiresAt === null) return 'ok';
  const nowMs = typeof now === 'number' ? now : now.getTime();
  return nowMs >= Date.parse(key.expiresAt) ? 'expired' : 'ok';
}
