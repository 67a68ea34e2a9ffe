import { DeleteRoleQuery, UpsertRole } from '@toolgate/contracts';
import type { z } from 'zod';

/**
 * Create and full replace: the UpsertRole contract (RoleRules plus the checks on its values),
 * the same schema the dashboard's role builder validates with. Every issue is reported with its
 * full path, e.g. `rules.tools.2.constraints.customer_id.pattern`.
 */
export const UpsertRoleDto = UpsertRole;
export type UpsertRoleDto = z.output<typeof UpsertRoleDto>;

export { DeleteRoleQuery };
/**
 * Named apart from the schema on purpose: SWC emits a same-named value as the parameter's design
 * type, and Swagger would then try to read the zod schema as a model class.
 */
export type DeleteRoleOptions = z.output<typeof DeleteRoleQuery>;
