import { z } from 'zod';

/**
 * Management tokens: credentials for automation (CI, GitOps, the `toolgate` CLI) against the
 * control plane's `/v1` API. Two kinds: a person's personal access token (acts as that person,
 * never with more than their current role) and an org's service account (no person; survives
 * member changes). Both are bound to one org, scoped, expiring and revocable.
 */
export const MANAGEMENT_SCOPES = ['read', 'manage', 'billing'] as const;
export const ManagementScope = z.enum(MANAGEMENT_SCOPES, { error: 'must be one of read, manage, billing' });
export type ManagementScope = z.output<typeof ManagementScope>;

export const MANAGEMENT_TOKEN_KINDS = ['personal', 'service_account'] as const;
export type ManagementTokenKind = (typeof MANAGEMENT_TOKEN_KINDS)[number];

/**
 * The member roles each scope lets a token act as; a token acts as the union of its scopes'
 * roles. A route allows a token when one of these roles is among the route's allowed roles (and,
 * for a personal token, the person's current role includes that role too). No scope grants
 * `owner`: owner-only actions (deleting the org, plan and quota) always need a person's session.
 */
export const SCOPE_ROLES = {
  read: ['member'],
  manage: ['admin'],
  billing: ['billing'],
} as const satisfies Record<ManagementScope, readonly ('owner' | 'admin' | 'member' | 'billing')[]>;

export const DEFAULT_TOKEN_LIFETIME_DAYS = 90;
export const MAX_TOKEN_LIFETIME_DAYS = 365;

const TokenName = z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(120, 'must be at most 120 characters');

const Scopes = z
  .array(ManagementScope, { error: 'must be an array of scopes' })
  .min(1, 'give at least one scope')
  .transform((s) => MANAGEMENT_SCOPES.filter((scope) => s.includes(scope)));

const ExpiresInDays = z
  .number({ error: 'must be a whole number of days' })
  .int('must be a whole number of days')
  .min(1, 'must be at least 1')
  .max(MAX_TOKEN_LIFETIME_DAYS, `must be at most ${MAX_TOKEN_LIFETIME_DAYS}`);

/** `POST /v1/orgs/:org/tokens`: a service account token of that org. */
export const CreateServiceAccountTokenRequest = z
  .object({
    name: TokenName,
    scopes: Scopes,
    /** Every token expires; 90 days unless told, at most a year. */
    expiresInDays: ExpiresInDays.default(DEFAULT_TOKEN_LIFETIME_DAYS),
  })
  .strict();
export type CreateServiceAccountTokenRequest = z.input<typeof CreateServiceAccountTokenRequest>;

/** `POST /v1/me/tokens`: a personal access token bound to `org` (id or slug), where the person is a member. */
export const CreatePersonalTokenRequest = z
  .object({
    name: TokenName,
    org: z.string({ error: 'must be an org id or slug' }).trim().min(1, 'must not be empty').max(100),
    scopes: Scopes,
    expiresInDays: ExpiresInDays.default(DEFAULT_TOKEN_LIFETIME_DAYS),
  })
  .strict();
export type CreatePersonalTokenRequest = z.input<typeof CreatePersonalTokenRequest>;

export const ManagementTokenStatus = z.enum(['active', 'expired', 'revoked']);
export type ManagementTokenStatus = z.output<typeof ManagementTokenStatus>;

/** A token as every list and read shows it: never the secret, never its hash. */
export const ManagementTokenView = z.object({
  id: z.string(),
  kind: z.enum(MANAGEMENT_TOKEN_KINDS),
  name: z.string(),
  /** `tgm_` + the first 8 characters of the secret. */
  prefix: z.string(),
  scopes: z.array(ManagementScope),
  org: z.object({ id: z.string(), slug: z.string() }),
  /** The person a personal token acts as; null for a service account. */
  userId: z.string().nullable(),
  createdById: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  status: ManagementTokenStatus,
});
export type ManagementTokenView = z.output<typeof ManagementTokenView>;

/** The answer to a create: the view plus the secret `token`, shown this once only. */
export const CreatedManagementToken = ManagementTokenView.extend({ token: z.string() });
export type CreatedManagementToken = z.output<typeof CreatedManagementToken>;

export const ManagementTokenList = z.object({ items: z.array(ManagementTokenView) });
export type ManagementTokenList = z.output<typeof ManagementTokenList>;

/** What an activity entry made with a management token records about it (`actorToken`). */
export const ActivityTokenActor = z.object({
  id: z.string(),
  kind: z.enum(MANAGEMENT_TOKEN_KINDS),
  name: z.string(),
  prefix: z.string(),
});
export type ActivityTokenActor = z.output<typeof ActivityTokenActor>;
