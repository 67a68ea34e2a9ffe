import { z } from 'zod';
import { MemberRoleSchema } from '../members/members.dto';

/** Emails are compared case-insensitively, so they are stored lower-cased (as User.email is). */
const Email = z
  .string({ error: 'must be an email address' })
  .trim()
  .max(254, 'must be at most 254 characters')
  .email('must be a valid email address')
  .transform((e) => e.toLowerCase());

export const CreateInvitationDto = z.object({ email: Email, role: MemberRoleSchema }).strict();
export type CreateInvitationDto = z.output<typeof CreateInvitationDto>;

/** Accepting takes no input; an empty (or absent) body, and unknown fields are refused. */
export const AcceptInvitationDto = z.object({}).strict();
export type AcceptInvitationDto = z.output<typeof AcceptInvitationDto>;

/** Invitation tokens: `tgi_` + 32 random bytes in base64url (43 characters). */
export const INVITATION_TOKEN_PREFIX = 'tgi_';
export const INVITATION_TOKEN = /^tgi_[A-Za-z0-9_-]{43}$/;
