import { z } from 'zod';

/**
 * A task an agent created through the gateway (MCP 2025-11-25 "tasks", experimental), as every
 * gateway worker reads it from Redis (`redisKeys.task`). The agent only ever sees `id`; the
 * upstream's own task id stays inside the gateway, so agents can neither guess nor collide on it.
 */
export const GatewayTaskRecord = z.object({
  schemaVersion: z.literal(1),
  /** The gateway's task id: what the agent sees (`tgt_` + 144 random bits). */
  id: z.string(),
  orgId: z.string(),
  /** The creating agent: only this key in this session may reach the task. */
  keyId: z.string(),
  sessionId: z.string(),
  serverId: z.string(),
  serverSlug: z.string(),
  /** The upstream tool that created it (policy is decided again on every task operation). */
  tool: z.string(),
  arguments: z.record(z.string(), z.unknown()).optional(),
  upstreamTaskId: z.string(),
  /** Pool key and instance of the backend that holds the task, on worker `workerId`. */
  backendKey: z.string(),
  backendInstance: z.string(),
  workerId: z.string(),
  /** Epoch ms; the record expires with the task's ttl (capped by the gateway). */
  createdAt: z.number(),
  expiresAt: z.number(),
  /** The last Task state the gateway saw, with the gateway's id (served by tasks/list). */
  task: z.record(z.string(), z.unknown()),
});
export type GatewayTaskRecord = z.infer<typeof GatewayTaskRecord>;
