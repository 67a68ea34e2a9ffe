import { OrgSlug } from '@toolgate/contracts';
import { z } from 'zod';

export const CreateOrgDto = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(120),
    slug: OrgSlug,
  })
  .strict();
export type CreateOrgDto = z.output<typeof CreateOrgDto>;

export const UpdateOrgDto = z
  .object({
    name: z.string().trim().min(1).max(120).optional(),
    slug: OrgSlug.optional(),
    plan: z.string().trim().min(1).max(40).optional(),
    monthlyCallQuota: z.number().int().positive().nullable().optional(),
  })
  .strict()
  .refine((d) => Object.keys(d).length > 0, { message: 'nothing to update' });
export type UpdateOrgDto = z.output<typeof UpdateOrgDto>;

export const DeleteOrgDto = z.object({ confirm: z.string().min(1, 'type the org slug to confirm') }).strict();
export type DeleteOrgDto = z.output<typeof DeleteOrgDto>;
