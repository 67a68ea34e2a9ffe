import { z } from 'zod';
import { RoleRules } from '../rules';

/** A role's name: what keys, the simulator and the audit log show. */
export const RoleName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters: lowercase letters, digits, _ and -, starting with a letter or digit');

/**
 * `POST /v1/orgs/:org/roles` and `PUT …/roles/:id`: create and full replace share one shape (an
 * omitted description clears it). The API adds the rule checks that need the server (role-rules.ts).
 */
export const UpsertRoleRequest = z
  .object({
    name: RoleName,
    description: z.string().trim().max(500, 'must be at most 500 characters').nullable().optional(),
    rules: RoleRules,
  })
  .strict();
export type UpsertRoleRequest = z.input<typeof UpsertRoleRequest>;

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
