import { z } from 'zod';

/** Org and server slugs: lowercase, URL- and tool-name-safe, no `__` (our namespace separator). */
export const Slug = z
  .string()
  .min(2, 'must be at least 2 characters')
  .max(40, 'must be at most 40 characters')
  .regex(
    /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/,
    'must be lowercase letters, digits and single hyphens, starting and ending with a letter or digit',
  )
  .refine((s) => !s.includes('--'), { message: 'must not contain consecutive hyphens' });

/** Slugs that would clash with routes. */
export const RESERVED_SLUGS = new Set([
  'new',
  'settings',
  'api',
  'admin',
  'www',
  'mcp',
  'sse',
  'messages',
  'healthz',
  'readyz',
  'metrics',
  'well-known',
]);
