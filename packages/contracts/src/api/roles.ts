import { z } from 'zod';
import { RoleRules } from '../rules';

/**
 * The role request (UpsertRole) and its name rule (RoleName) live in ../roles.ts with the checks
 * on rule values; this file holds the role's other request and its view.
 */

/** `DELETE …/roles/:id?force=true` detaches the role from the keys still using it. */
export const DeleteRoleQuery = z
  .object({
    force: z
      .enum(['true', 'false'], { message: 'must be true or false' })
      .optional()
      .transform((v) => v === 'true'),
  })
  .strict();

/** A role as every read shows it. */
export const RoleView = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  rules: RoleRules,
  /** Keys carrying this role. */
  keyCount: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type RoleView = z.output<typeof RoleView>;
