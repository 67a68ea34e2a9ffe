import type { PolicySnapshot } from '@toolgate/contracts';
import { compiledPolicy } from './compiled';
import type { Principal } from './types';
import { ruleSubject } from './subject';

/** One token bucket to charge for a call. */
export interface RateLimit {
  /**
   * Stable scope within the org: `key:<keyId>` or `tool:<keyId>:<server>__<tool>`.
   * Combine with the org id for the Redis key (`redisKeys.bucket(orgId, bucket)`).
   */
  bucket: string;
  perMinute: number;
  /** Bucket capacity; defaults to perMinute. */
  burst: number;
  /** One bucket for every org (`redisKeys.sharedBucket(bucket)`): the per-client-address limit. */
  shared?: true;
}

/** The operator's limits beside the roles' (gateway configuration; 0 = off). */
export interface EdgeRateLimits {
  orgPerMinute: number;
  /** 0 = orgPerMinute. */
  orgBurst: number;
  ipPerMinute: number;
  /** 0 = ipPerMinute. */
  ipBurst: number;
}

/**
 * The operator's buckets for a call: `org` (every call of the org, any key) and, when the client
 * address is known, `ip:<address>` shared by every org.
 */
export function edgeRateLimits(edge: EdgeRateLimits, clientIp: string | null): RateLimit[] {
  const limits: RateLimit[] = [];
  if (edge.orgPerMinute > 0) limits.push({ bucket: 'org', perMinute: edge.orgPerMinute, burst: edge.orgBurst || edge.orgPerMinute });
  if (edge.ipPerMinute > 0 && clientIp !== null) {
    limits.push({ bucket: `ip:${clientIp}`, perMinute: edge.ipPerMinute, burst: edge.ipBurst || edge.ipPerMinute, shared: true });
  }
  return limits;
}

/**
 * The rate limits that apply to a call, from all of the principal's (known) roles:
 *  - scope 'key' → bucket `key:<keyId>` (applies to every call, tool or not);
 *  - scope 'tool' → bucket `tool:<keyId>:<server>__<tool>` when the rule's glob (default `*`)
 *    matches `<server>__<tool>`. Pass `toolName: null` for calls that are not tool calls:
 *    then only key-scope limits apply.
 * When several rules produce the same bucket the strictest wins, taken per field: the lowest
 * perMinute and the lowest burst (each honoured rule is then satisfied).
 * Buckets are listed in the order they first appear (role order, then rule order).
 */
export function rateLimitsFor(snapshot: PolicySnapshot, principal: Principal, server: string, toolName: string | null): RateLimit[] {
  const policy = compiledPolicy(snapshot);
  const subject = toolName === null ? null : ruleSubject(server, toolName);
  const limits: RateLimit[] = [];
  for (const roleId of principal.roleIds) {
    const role = policy.roles.get(roleId);
    if (role === undefined) continue;
    for (const rule of role.rateLimits) {
      let bucket: string;
      if (rule.scope === 'key') bucket = `key:${principal.keyId}`;
      else if (subject !== null && rule.match(subject)) bucket = `tool:${principal.keyId}:${subject}`;
      else continue;
      const existing = limits.find((limit) => limit.bucket === bucket);
      if (existing === undefined) {
        limits.push({ bucket, perMinute: rule.perMinute, burst: rule.burst });
      } else {
        existing.perMinute = Math.min(existing.perMinute, rule.perMinute);
        existing.burst = Math.min(existing.burst, rule.burst);
      }
    }
  }
  return limits;
}
