import { z } from 'zod';

/** The four membership roles of an org, most to least powerful. */
export const MEMBER_ROLES = ['owner', 'admin', 'member', 'billing'] as const;
export const MemberRole = z.enum(MEMBER_ROLES, { error: `must be one of ${MEMBER_ROLES.join(', ')}` });
export type MemberRole = z.output<typeof MemberRole>;

/**
 * Who may do what: the API's route guards allow exactly these roles, and the dashboard hides and
 * refuses what a role may not do from the same table. Owner/admin manage everything; member
 * reads; billing handles billing only; owner-only actions (deleting the org, plan and quota).
 */
export const ROLE_MATRIX = {
  any: ['owner', 'admin', 'member', 'billing'],
  read: ['owner', 'admin', 'member'],
  manage: ['owner', 'admin'],
  billing: ['owner', 'billing'],
  owner: ['owner'],
} as const satisfies Record<string, readonly MemberRole[]>;
export type RoleAbility = keyof typeof ROLE_MATRIX;

/** Whether `role` may do what `ability` guards. */
export const roleMay = (role: MemberRole, ability: RoleAbility): boolean => (ROLE_MATRIX[ability] as readonly MemberRole[]).includes(role);
