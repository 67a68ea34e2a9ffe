import { z } from 'zod';

/** Longest lifetime a key may be given in days (ten years). */
export const MAX_KEY_LIFETIME_DAYS = 3650;
/** Most roles one key may carry; more is a policy smell, not a use case. */
export const MAX_KEY_ROLES = 50;
export const MAX_METADATA_ENTRIES = 50;

const KeyName = z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(120, 'must be at most 120 characters');

/**
 * Role ids are any syntactically valid UUID; whether they exist in this org is checked by the
 * service (an unknown or foreign id is a 400 naming that id, never a 500).
 */
const RoleIds = z
  .array(z.guid({ error: 'must be a UUID' }), { error: 'must be an array of role ids' })
  .max(MAX_KEY_ROLES, `at most ${MAX_KEY_ROLES} roles`)
  .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))]);

const METADATA_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Free-form values policies may reference (`${key.metadata.customer_id}`): a flat object of
 * strings, numbers and booleans, so every value can be compared by a parameter constraint.
 */
export const KeyMetadata = z
  .record(
    z.string().regex(METADATA_KEY),
    z.union([z.string().max(1024, 'must be at most 1024 characters'), z.number().finite(), z.boolean()], {
      error: 'must be a string, number or boolean',
    }),
    {
      error: (issue) =>
        issue.code === 'invalid_key'
          ? 'metadata keys must be 1-64 letters, digits, "_", "." or "-"'
          : issue.code === 'invalid_type'
            ? 'must be an object of string, number or boolean values'
            : undefined,
    },
  )
  .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, {
    message: `must have at most ${MAX_METADATA_ENTRIES} entries`,
  });
export type KeyMetadata = z.output<typeof KeyMetadata>;

/** An ISO 8601 date-time with an offset (`Z` or `+02:00`) that lies in the future. */
const FutureDateTime = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2030-01-31T00:00:00Z' })
  .transform((s) => new Date(s))
  .refine((d) => d.getTime() > Date.now(), { message: 'must be in the future' })
  .refine((d) => d.getTime() <= Date.now() + MAX_KEY_LIFETIME_DAYS * 86_400_000, {
    message: `must be within ${MAX_KEY_LIFETIME_DAYS} days`,
  });

const ExpiresInDays = z
  .number({ error: 'must be a whole number of days' })
  .int('must be a whole number of days')
  .min(1, 'must be at least 1')
  .max(MAX_KEY_LIFETIME_DAYS, `must be at most ${MAX_KEY_LIFETIME_DAYS}`);

/** `expiresAt` and `expiresInDays` say the same thing two ways: one at most. */
const oneExpiry = <T extends { expiresAt?: unknown; expiresInDays?: unknown }>(d: T, ctx: z.RefinementCtx) => {
  if (d.expiresAt !== undefined && d.expiresInDays !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['expiresInDays'], message: 'give either expiresAt or expiresInDays, not both' });
  }
};

/** The expiry a create/rotate request asks for: undefined = not given, null = never expires. */
export function resolveExpiry(d: { expiresAt?: Date | null; expiresInDays?: number }): Date | null | undefined {
  if (d.expiresInDays !== undefined) return new Date(Date.now() + d.expiresInDays * 86_400_000);
  return d.expiresAt;
}

export const KeyStatusFilter = z.enum(['active', 'expired', 'revoked', 'all'], {
  error: 'must be one of active, expired, revoked, all',
});
export type KeyStatusFilter = z.output<typeof KeyStatusFilter>;

export const ListKeysQuery = z.object({ status: KeyStatusFilter.default('all') }).strict();
export type ListKeysQuery = z.output<typeof ListKeysQuery>;

export const CreateKeyDto = z
  .object({
    name: KeyName,
    roleIds: RoleIds.default([]),
    metadata: KeyMetadata.default({}),
    expiresAt: FutureDateTime.optional(),
    expiresInDays: ExpiresInDays.optional(),
  })
  .strict()
  .superRefine(oneExpiry);
export type CreateKeyDto = z.output<typeof CreateKeyDto>;

/** Partial update; `metadata` and `roleIds` replace the whole value; `expiresAt: null` removes the expiry. */
export const UpdateKeyDto = z
  .object({
    name: KeyName.optional(),
    roleIds: RoleIds.optional(),
    metadata: KeyMetadata.optional(),
    expiresAt: FutureDateTime.nullable().optional(),
  })
  .strict()
  .refine((d) => Object.keys(d).length > 0, { message: 'nothing to update' });
export type UpdateKeyDto = z.output<typeof UpdateKeyDto>;

/**
 * Rotation keeps the old key's expiry unless the caller gives a new one (needed to rotate a key
 * that has already expired; `expiresAt: null` makes the new key never expire).
 */
export const RotateKeyDto = z
  .object({
    expiresAt: FutureDateTime.nullable().optional(),
    expiresInDays: ExpiresInDays.optional(),
  })
  .strict()
  .superRefine(oneExpiry);
export type RotateKeyDto = z.output<typeof RotateKeyDto>;
