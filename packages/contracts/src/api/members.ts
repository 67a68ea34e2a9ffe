import { z } from 'zod';
import { MemberRole } from '../member-roles';

/** `PATCH /v1/orgs/:org/members/:userId`: a member's new role. */
export const UpdateMemberRequest = z.object({ role: MemberRole }).strict();
export type UpdateMemberRequest = z.input<typeof UpdateMemberRequest>;

/** `GET /v1/orgs/:org/members` items: the user, their role and when they joined. */
export const MemberView = z.object({
  userId: z.string(),
  email: z.string(),
  name: z.string(),
  role: MemberRole,
  joinedAt: z.string(),
});
export type MemberView = z.output<typeof MemberView>;

/** `GET /v1/orgs/:org/invitations` items: pending invitations, never their tokens. */
export const InvitationView = z.object({
  id: z.string(),
  email: z.string(),
  role: MemberRole,
  expiresAt: z.string(),
  createdAt: z.string(),
  invitedBy: z.object({ id: z.string(), email: z.string(), name: z.string() }).nullable(),
});
export type InvitationView = z.output<typeof InvitationView>;
