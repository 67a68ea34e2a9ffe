/**
 * Lua scripts that write snapshots and tombstones to Redis, each one atomic step with its notice.
 * Their guards are what keeps confused states harmless: racing publishers, a republish prepared
 * before Redis lost its data, a live snapshot of an org that was deleted meanwhile.
 */

/** What PUBLISH_SNAPSHOT_LUA answered. */
export enum SnapshotWrite {
  Written = 1,
  /** Redis already holds this version (complete) or a newer one. */
  Current = 0,
  /** The epoch is not the one the publisher knows: Redis lost its data since. Nothing written. */
  Fenced = -1,
  /** The org has a tombstone: deleted orgs are never written again. */
  Deleted = -2,
}

/**
 * Write a snapshot unless the epoch changed, the org is tombstoned, or Redis holds a newer
 * version. The same version is written again when its key or slug mapping went missing (a key
 * evicted or deleted by hand), so a republish heals a partial loss.
 * KEYS: snapshot, tombstone, versions hash, slug map, epoch.
 * ARGV: orgId, version, json, channel, notice, slug, epoch.
 */
export const PUBLISH_SNAPSHOT_LUA = `
if redis.call('GET', KEYS[5]) ~= ARGV[7] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
local v = tonumber(ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if cur > v then return 0 end
if cur == v and redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HGET', KEYS[4], ARGV[6]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[6], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`;

/**
 * Write a tombstone: it always wins (no version or epoch check; deleting a deleted org is never
 * wrong), removes the snapshot and the slug mapping if it is still this org's, and raises the
 * version above whatever Redis held, so a worker's version re-check after a reconnect reloads
 * and finds the tombstone. Returns 0 if the tombstone was there.
 * KEYS: tombstone, snapshot, versions hash, slug map. ARGV: orgId, version, json, channel, slug.
 */
export const PUBLISH_TOMBSTONE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[2])
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
if redis.call('HGET', KEYS[4], ARGV[5]) == ARGV[1] then redis.call('HDEL', KEYS[4], ARGV[5]) end
local v = math.max(tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0') + 1, tonumber(ARGV[2]))
redis.call('HSET', KEYS[3], ARGV[1], tostring(v))
redis.call('PUBLISH', ARGV[4], cjson.encode({orgId = ARGV[1], version = v, deleted = true}))
return 1`;
