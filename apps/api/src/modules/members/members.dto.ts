import * as api from '@toolgate/contracts';
import type { z } from 'zod';

/** One of the four membership roles, with a message that lists them (MemberRole in @toolgate/contracts). */
export const MemberRoleSchema = api.MemberRole;

/** The request schema lives in @toolgate/contracts (api/members.ts). */
export const UpdateMemberDto = api.UpdateMemberRequest;
export type UpdateMemberDto = z.output<typeof UpdateMemberDto>;
