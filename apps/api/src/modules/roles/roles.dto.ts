import { DeleteRoleQuery, UpsertRoleRequest } from '@toolgate/contracts';
import type { z } from 'zod';
import { checkRoleRules } from './role-rules';

/**
 * The request shape is UpsertRoleRequest in @toolgate/contracts (api/roles.ts), shared with the
 * dashboard; here it gets the checks in role-rules.ts (they need node:net). Every issue is
 * reported with its full path, e.g.
 * `rules.tools.2.constraints.customer_id.pattern`.
 */
export const UpsertRoleDto = UpsertRoleRequest.superRefine(
  (dto, ctx) => {
    const raw = (dto as { rules?: unknown } | null)?.rules;
    for (const issue of checkRoleRules(raw)) {
      ctx.addIssue({ code: 'custom', path: ['rules', ...issue.path], message: issue.message });
    }
  },
  // Run even when the contract schema already found problems, so one answer lists them all.
  { when: () => true },
);
export type UpsertRoleDto = z.output<typeof UpsertRoleDto>;

export { DeleteRoleQuery };
/**
 * Named apart from the schema on purpose: SWC emits a same-named value as the parameter's design
 * type, and Swagger would then try to read the zod schema as a model class.
 */
export type DeleteRoleOptions = z.output<typeof DeleteRoleQuery>;
