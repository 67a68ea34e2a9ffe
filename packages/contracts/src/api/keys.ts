import { z } from 'zod';

/** `agent`: made by an admin for an agent; `try_it`: minted by Try it for one call and revoked after it (try-it.ts). */
export const KeyKind = z.enum(['agent', 'try_it']);
export type KeyKind = z.output<typeof KeyKind>;

export const KeyStatus = z.enum(['active', 'expired', 'revoked']);
export type KeyStatus = z.output<typeof KeyStatus>;

/** A key's metadata value: what parameter constraints compare (`${key.metadata.<name>}`). */
export type MetadataValue = string | number | boolean;

/** An agent key as every read shows it, and as the activity log records it: never the hash or the secret. */
export const KeyView = z.object({
  id: z.string(),
  name: z.string(),
  /** `tg_` + the first 8 characters of the secret. */
  prefix: z.string(),
  roles: z.array(z.object({ id: z.string(), name: z.string() })),
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  kind: KeyKind,
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** On a key replaced by a rotation: the key that replaced it. */
  rotatedToId: z.string().nullable(),
  status: KeyStatus,
});
export type KeyView = z.output<typeof KeyView>;

/** What `POST …/keys` and `POST …/keys/:id/rotate` answer: the view plus the secret, shown once. */
export const KeyWithSecret = KeyView.extend({ key: z.string(), rotatedFromId: z.string().optional() });
export type KeyWithSecret = z.output<typeof KeyWithSecret>;
