import { z } from 'zod';

/**
 * What each gateway worker reports about itself, so the control plane and the dashboard can show
 * whether tenant code runs confined. Written to the Redis hash `redisKeys.gatewayStatus`
 * (field = workerId) every GATEWAY_STATUS_INTERVAL_MS; readers ignore entries older than
 * GATEWAY_STATUS_STALE_MS (a worker that died stops refreshing).
 */
export const GATEWAY_STATUS_INTERVAL_MS = 10_000;
export const GATEWAY_STATUS_STALE_MS = 35_000;

export const SandboxMode = z.enum(['bwrap', 'off']);
export type SandboxMode = z.infer<typeof SandboxMode>;

export const SandboxStatus = z.object({
  /** `off` only by the operator's explicit choice (single-team self-hosting). */
  mode: SandboxMode,
  /** The sandbox starts on this host (bwrap present, user namespaces allowed). Always true when off. */
  ok: z.boolean(),
  /** Why not, or what it runs with (for operators). */
  detail: z.string(),
  /** `egress` servers can start (slirp4netns present); `none` needs nothing more. */
  egress: z.object({ ok: z.boolean(), detail: z.string() }),
  /** How resource limits are enforced: a cgroup, or rlimits + the RSS watchdog. */
  limits: z.enum(['cgroup-v2', 'rlimit']),
});
export type SandboxStatus = z.infer<typeof SandboxStatus>;

export const GatewayStatus = z.object({
  schemaVersion: z.literal(1),
  workerId: z.string(),
  sandbox: SandboxStatus,
  at: z.string().datetime(),
});
export type GatewayStatus = z.infer<typeof GatewayStatus>;
