import { isIP } from 'node:net';
import { CheckedRoleRules, RoleName, SIMULATED_METHODS, type SimulatedMethod } from '@toolgate/contracts';
import { z } from 'zod';
import { KeyMetadata } from '../keys/keys.dto';

/**
 * A role being written and not saved yet, tried as if a key held only it: its rules (checked
 * like a saved role's), an optional name for the rule labels, and the metadata such a key would
 * carry (what `${key.metadata.*}` references resolve against).
 */
export const DraftRole = z
  .object({
    name: RoleName.optional(),
    rules: CheckedRoleRules,
    metadata: KeyMetadata.default({}),
  })
  .strict();

/**
 * A call to try against the org's current policy, as an agent would make it, either as an
 * existing key (`keyId`) or as a key holding only a draft role (`draft`):
 *  - tools/prompts: `name` is the namespaced `server__tool` the aggregated endpoint shows, or
 *    give `server` separately and the tool's own name;
 *  - resources: `name` is the resource URI and `server` is required.
 */
export const SimulateDto = z
  .object({
    keyId: z.uuid({ message: 'must be a UUID' }).optional(),
    draft: DraftRole.optional(),
    method: z.enum(Object.keys(SIMULATED_METHODS) as [SimulatedMethod, ...SimulatedMethod[]], {
      message: `must be one of ${Object.keys(SIMULATED_METHODS).join(', ')}`,
    }),
    name: z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters'),
    server: z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters').optional(),
    arguments: z.record(z.string(), z.unknown()).optional(),
    ip: z
      .string()
      .refine((v) => isIP(v) !== 0, { message: 'must be an IPv4 or IPv6 address' })
      .optional(),
  })
  .strict()
  .superRefine(
    (dto, ctx) => {
      // Walked defensively: it also runs when other fields are invalid, so a missing key is always named.
      const given = (k: string) => typeof dto === 'object' && dto !== null && (dto as Record<string, unknown>)[k] !== undefined;
      if (!given('keyId') && !given('draft')) {
        ctx.addIssue({ code: 'custom', path: ['keyId'], message: 'is required unless a draft role is given' });
      } else if (given('keyId') && given('draft')) {
        ctx.addIssue({
          code: 'custom',
          path: ['draft'],
          message: 'give either keyId (an existing key) or draft (unsaved role rules), not both',
        });
      }
    },
    { when: () => true },
  )
  .superRefine((dto, ctx) => {
    if (dto.method === 'resources/read') {
      if (dto.server === undefined) {
        ctx.addIssue({ code: 'custom', path: ['server'], message: 'is required for resources/read (name is the resource URI)' });
      }
      return;
    }
    // An empty name is already reported by its own check.
    if (dto.server === undefined && dto.name.length > 0) {
      const split = dto.name.indexOf('__');
      if (split <= 0 || split + 2 >= dto.name.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['name'],
          message: 'must be namespaced as <server>__<name>, or give the server separately in `server`',
        });
      }
    }
  });
export type SimulateDto = z.output<typeof SimulateDto>;
export type DraftRole = z.output<typeof DraftRole>;
