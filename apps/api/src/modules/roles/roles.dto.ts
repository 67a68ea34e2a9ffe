import { UpsertRole } from '@toolgate/contracts';
import { z } from 'zod';

/**
 * Create and full replace: the UpsertRole contract (RoleRules plus the checks on its values),
 * the same schema the dashboard's role builder validates with. Every issue is reported with its
 * full path, e.g. `rules.tools.2.constraints.customer_id.pattern`.
 */
export const UpsertRoleDto = UpsertRole;
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
