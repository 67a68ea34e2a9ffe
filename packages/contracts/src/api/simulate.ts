import { z } from 'zod';
import { Effect } from '../rules';

/** The MCP methods the gateway authorizes per call, and the policy request kind of each. */
export const SIMULATED_METHODS = {
  'tools/call': 'tool',
  'prompts/get': 'prompt',
  'resources/read': 'resource',
} as const;
export type SimulatedMethod = keyof typeof SIMULATED_METHODS;

/** `POST /v1/orgs/:org/policy/simulate`: the decision the gateway would make, and why. */
export const SimulateResult = z.object({
  allowed: z.boolean(),
  effect: Effect,
  reason: z.string(),
  /** The rule that decided, or null for the default deny; `roleId` is null for a draft role. */
  rule: z.object({ roleId: z.string().nullable(), roleName: z.string(), path: z.string(), label: z.string() }).nullable(),
  snapshotVersion: z.number(),
  /** null when a draft role was simulated (no key involved). */
  key: z.object({ id: z.string(), name: z.string(), roles: z.array(z.object({ id: z.string(), name: z.string().nullable() })) }).nullable(),
  /** Set when the decision is for a draft role rather than a saved key. */
  draft: z.boolean().optional(),
  request: z.object({ kind: z.enum(['tool', 'prompt', 'resource']), server: z.string(), name: z.string() }),
  warnings: z.array(z.string()),
});
export type SimulateResult = z.output<typeof SimulateResult>;
