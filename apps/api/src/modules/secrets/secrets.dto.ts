import { z } from 'zod';
import { SECRET_NAME, SECRET_NAME_MESSAGE } from '@toolgate/contracts';

export { SECRET_NAME, SECRET_NAME_MESSAGE };

/** Largest secret value, in UTF-8 bytes. */
export const MAX_SECRET_BYTES = 64 * 1024;

export const SecretName = z.string().regex(SECRET_NAME, SECRET_NAME_MESSAGE);

/**
 * Create or replace a secret. The value is taken byte for byte (no trimming: whitespace may be
 * part of a credential). `description` omitted keeps the current one; `null` clears it.
 */
export const PutSecretDto = z
  .object({
    value: z
      .string({ error: 'must be a string' })
      .min(1, 'must not be empty')
      .refine((v) => Buffer.byteLength(v, 'utf8') <= MAX_SECRET_BYTES, {
        message: `must be at most ${MAX_SECRET_BYTES} bytes (64 KiB)`,
      }),
    description: z
      .string({ error: 'must be a string or null' })
      .trim()
      .max(500, 'must be at most 500 characters')
      .transform((d) => (d === '' ? null : d))
      .nullable()
      .optional(),
  })
  .strict();
export type PutSecretDto = z.output<typeof PutSecretDto>;
