/**
 * Redis keys, pub/sub channels and queue names shared by every process.
 * Tenant ids always travel explicitly in keys (see CONVENTIONS.md).
 */
export const redisKeys = {
  /** Compiled policy snapshot of one org (JSON, see PolicySnapshot). */
  snapshot: (orgId: string) => `tg:snapshot:${orgId}`,
  /**
   * Tombstone of a deleted org (JSON, see SnapshotTombstone): the only way Redis says an org is
   * gone. A missing snapshot key means "not in Redis right now" (Redis restarted empty, a key
   * evicted), never "deleted": gateways keep their last good copy then. Final: once it exists, no
   * snapshot of that org is written again (org ids are never reused).
   */
  snapshotTombstone: (orgId: string) => `tg:snapshot-tombstone:${orgId}`,
  /** Hash of orgId -> latest published version, so a worker can re-check all versions cheaply. */
  snapshotVersions: 'tg:snapshot-versions',
  /**
   * Random id the API writes (SET NX) into a Redis that holds its snapshots. Missing or changed
   * means Redis lost its data since: the API republishes every snapshot and tombstone. Every
   * snapshot write is fenced on it, so a write prepared before the loss cannot land after it.
   */
  snapshotEpoch: 'tg:snapshot-epoch',
  /** Hash of org slug -> orgId, so gateways can route `/mcp/{slug}`; the snapshot's own slug is authoritative. */
  orgSlugs: 'tg:org-slugs',
  /** Gateway session state. */
  session: (sessionId: string) => `tg:session:${sessionId}`,
  /** Sorted set of live session ids, scored by their last activity (ms): the fleet's open sessions. */
  liveSessions: 'tg:sessions:live',
  /**
   * List of the recent events of one SSE stream of a session (`<seq> <kind> <data>` entries,
   * oldest first, trimmed to the last N, expiring), for resumption with Last-Event-ID. The
   * session id in the key is what keeps one session from replaying another's stream.
   */
  sseEvents: (sessionId: string, streamId: string) => `tg:sse:${sessionId}:${streamId}`,
  /** Token bucket for a rate-limit scope. */
  bucket: (orgId: string, scope: string) => `tg:rl:${orgId}:${scope}`,
  /** Token bucket shared by every org (per client address): `tg:rl-shared:{scope}`. */
  sharedBucket: (scope: string) => `tg:rl-shared:${scope}`,
  /** Login attempt counter (API). */
  loginAttempts: (subject: string) => `tg:login:${subject}`,
  /** Epoch ms before which a user's access tokens are refused (sign out of all sessions); expires with the access token TTL (API). */
  sessionsValidAfter: (userId: string) => `tg:sessions-after:${userId}`,
  /** API throttle counter of one fixed window: `scope` (signup, auth, manage), client IP or user id, window number. */
  apiThrottle: (scope: string, subject: string, window: number) => `tg:throttle:${scope}:${subject}:${window}`,
  /**
   * Billable calls of one org in one UTC month (`YYYY-MM`): counted by the gateway against the
   * plan's monthlyCallQuota, raised to the rolled-up total by the usage worker (never lowered).
   */
  quota: (orgId: string, month: string) => `tg:quota:${orgId}:${month}`,
  /**
   * Single-use ticket of the live audit WebSocket, keyed by the ticket's sha256 (hex) so Redis
   * never holds a usable ticket; value LiveTicketGrant, expires after ~30 s (API).
   */
  liveTicket: (ticketHash: string) => `tg:live-ticket:${ticketHash}`,
  /** Hash of gateway workerId -> GatewayStatus JSON (sandbox mode and health), refreshed by each worker. */
  gatewayStatus: 'tg:gateway-status',
  /**
   * List of ProbeRequest JSON: the API pushes on the right (RPUSH), gateway workers take from
   * the left (BLPOP), oldest first.
   */
  probeRequests: 'tg:probe:requests',
  /** List of ProbeReply JSON for one probe, in order (RPUSH by the worker, BLPOP by the API); expires. */
  probeReply: (probeId: string) => `tg:probe:reply:${probeId}`,
  /** GatewayTaskRecord JSON of one agent-visible task; expires with the task. */
  task: (orgId: string, taskId: string) => `tg:task:${orgId}:${taskId}`,
  /** Sorted set of one session's task ids (score = creation ms), for tasks/list. */
  sessionTasks: (orgId: string, sessionId: string) => `tg:tasks:${orgId}:${sessionId}`,
  /** Gateway task id of an upstream task, by the backend holding it (status notifications). */
  upstreamTask: (backendKey: string, upstreamTaskId: string) => `tg:task-up:${backendKey}:${upstreamTaskId}`,
} as const;

export const channels = {
  /** Published after a snapshot is committed and written: payload SnapshotNotice. */
  snapshots: 'tg:snapshots',
  /**
   * Gateway worker-to-worker relay: agent responses to server-to-client requests, cancellations
   * and legacy-SSE writes that arrive on a worker other than the one holding the stream.
   */
  gatewayRelay: 'tg:gateway-relay',
  /**
   * Task operations for one gateway worker (a task lives in the backend of the worker that created
   * it), and what that worker sends back to the worker serving the agent.
   */
  gatewayTasks: (workerId: string) => `tg:gateway-tasks:${workerId}`,
  /** Published by the audit chain writer after each committed append of an org: payload AuditLiveNotice. */
  auditLive: (orgId: string) => `tg:audit-live:${orgId}`,
} as const;

export enum QueueName {
  Audit = 'tg-audit',
  Usage = 'tg-usage',
  /** Messages a consumer could not use (invalid payload, retries exhausted), with the error. */
  DeadLetter = 'tg-dead-letter',
}
