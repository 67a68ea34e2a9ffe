import { z } from 'zod';

/** `GET /v1/orgs/:org/secrets` items: metadata only, never the value. */
export const SecretView = z.object({
  name: z.string(),
  description: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Servers whose headers or env reference this secret. */
  usedBy: z.array(z.object({ serverId: z.string(), slug: z.string() })),
});
export type SecretView = z.output<typeof SecretView>;
