import { MemberRole } from '@toolgate/db';
import { z } from 'zod';

/** One of the four membership roles, with a message that lists them. */
export const MemberRoleSchema = z.enum(MemberRole, {
  error: () => `must be one of ${Object.values(MemberRole).join(', ')}`,
});

export const UpdateMemberDto = z.object({ role: MemberRoleSchema }).strict();
export type UpdateMemberDto = z.output<typeof UpdateMemberDto>;

/** A member as the API shows it: the user, their role and when they joined. */
export interface MemberView {
  userId: string;
  email: string;
  name: string;
  role: MemberRole;
  joinedAt: Date;
}
