import { RoleRules } from '@toolgate/contracts';
import { z } from 'zod';
import { checkRoleRules } from './role-rules';

export const RoleName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters: lowercase letters, digits, _ and -, starting with a letter or digit');

/**
 * Create and full replace share one shape: `PUT` replaces name, description and rules (an
 * omitted description clears it). `rules` is the RoleRules contract plus the checks in
 * role-rules.ts; every issue is reported with its full path, e.g.
 * `rules.tools.2.constraints.customer_id.pattern`.
 */
export const UpsertRoleDto = z
  .object({
    name: RoleName,
    description: z.string().trim().max(500, 'must be at most 500 characters').nullable().optional(),
    rules: RoleRules,
  })
  .strict()
  .superRefine(
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

/** `DELETE …/roles/:id?force=true` detaches the role from the keys still using it. */
export const DeleteRoleQuery = z
  .object({
    force: z
      .enum(['true', 'false'], { message: 'must be true or false' })
      .optional()
      .transform((v) => v === 'true'),
  })
  .strict();
/**
 * Named apart from the schema on purpose: SWC emits a same-named value as the parameter's design
 * type, and Swagger would then try to read the zod schema as a model class.
 */
export type DeleteRoleOptions = z.output<typeof DeleteRoleQuery>;
