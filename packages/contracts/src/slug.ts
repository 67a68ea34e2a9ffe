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

/** An org's slug: a Slug that is not one of the RESERVED_SLUGS. */
export const OrgSlug = Slug.refine((s) => !RESERVED_SLUGS.has(s), { message: 'is reserved' });

/** The slug a name suggests (`My Server!` → `my-server`); the result may still be too short for Slug. */
export const slugify = (name: string): string =>
  name
    .toLowerCase()
    .normalize('NFKD')
    // Accents become their own combining marks under NFKD: drop them so `é` stays `e`.
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
