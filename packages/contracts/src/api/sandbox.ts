import { z } from 'zod';
import { GatewayStatus } from '../gateway-status';

/**
 * How tenant stdio servers of this deployment run, at a glance:
 *  - `confined`: every live gateway runs them in the sandbox;
 *  - `unconfined`: some gateway runs them with the sandbox off (tenant code on the bare host);
 *  - `failing`: some gateway cannot start the sandbox, so stdio servers cannot start there;
 *  - `no-gateway`: no gateway has reported lately.
 */
export const SandboxSummary = z.enum(['confined', 'unconfined', 'failing', 'no-gateway']);
export type SandboxSummary = z.infer<typeof SandboxSummary>;

/** GET /v1/orgs/:org/sandbox. */
export const SandboxView = z.object({
  /** Launchers tenants may register as stdio commands (the operator's STDIO_ALLOWED_COMMANDS). */
  allowedCommands: z.array(z.string()),
  /** Gateways that reported within GATEWAY_STATUS_STALE_MS, by workerId. */
  gateways: z.array(GatewayStatus),
  summary: SandboxSummary,
});
export type SandboxView = z.infer<typeof SandboxView>;
