import { z } from 'zod';
import { ParamConstraint } from './rules';

/**
 * `GET /v1/orgs/:org/keys/:id/effective`: what one key may call, per enabled server, decided by
 * the gateway's own decide() on the org's current snapshot for each item of the server's last
 * probed catalogue, without arguments.
 *  - allowed: allowed whatever the arguments;
 *  - constrained: allowed only with arguments that meet `constraints` (of the rule named);
 *  - denied: by a deny rule, an ip allow-list, or because no rule allows it (`rule` null).
 */
export const EffectiveAccess = z.enum(['allowed', 'constrained', 'denied']);
export type EffectiveAccess = z.infer<typeof EffectiveAccess>;

export const EffectiveItem = z.object({
  /** Tool or prompt name as the server names it (the agent sees `server__name`); a resource's URI. */
  name: z.string(),
  description: z.string().nullable(),
  access: EffectiveAccess,
  reason: z.string(),
  /** `role:<name>/tools[i]`, as the gateway reports it; null for default deny. */
  rule: z.string().nullable(),
  /** Argument constraints of the allow rule that applies, by argument name. */
  constraints: z.record(z.string(), ParamConstraint).nullable(),
});
export type EffectiveItem = z.infer<typeof EffectiveItem>;

export const EffectiveServer = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  /** When the catalogue was last fetched; null = never probed successfully (lists are empty). */
  catalogFetchedAt: z.string().nullable(),
  tools: z.array(EffectiveItem),
  prompts: z.array(EffectiveItem),
  resources: z.array(EffectiveItem),
});
export type EffectiveServer = z.infer<typeof EffectiveServer>;

export const EffectivePolicy = z.object({
  keyId: z.string(),
  status: z.enum(['active', 'expired', 'revoked']),
  snapshotVersion: z.number().int(),
  /** Empty for a revoked or expired key: the gateway refuses it before any rule is read. */
  servers: z.array(EffectiveServer),
});
export type EffectivePolicy = z.infer<typeof EffectivePolicy>;
