import { z } from 'zod';
import { AuditLiveEvent } from '../live';
import { Decision, Outcome } from '../outcomes';
import { httpUrl } from './http-url';

/** An ISO 8601 instant with an explicit zone (`Z` or an offset); anything else is a 400. */
const Instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const Uuid = z.uuid().transform((s) => s.toLowerCase());

const fromBeforeTo = (q: { from?: Date; to?: Date }) => !(q.from && q.to && q.from.getTime() >= q.to.getTime());
const fromBeforeToIssue = { message: 'from must be before to', path: ['to'] };

/** The filters of `GET /v1/orgs/:org/audit` (also what the dashboard keeps in its URL). */
export const AuditFilterFields = z.object({
  /** Gateway time (`at`) of the call: from (inclusive) … to (exclusive). */
  from: Instant.optional(),
  to: Instant.optional(),
  keyId: Uuid.optional(),
  serverId: Uuid.optional(),
  /** Tool, prompt or resource the call named (exact match); for admin actions `<type>:<id>`. */
  target: z.string().min(1).max(2000).optional(),
  /** JSON-RPC method (`tools/call`, …) or `admin.<action>`. */
  method: z.string().min(1).max(200).optional(),
  decision: Decision.optional(),
  outcome: Outcome.optional(),
});
export type AuditFilterInput = z.input<typeof AuditFilterFields>;

/** `GET /v1/orgs/:org/audit`: newest first, keyset pagination on seq. */
export const ListAuditQuery = AuditFilterFields.extend({
  /** `nextCursor` of the previous page. */
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, 'must be a nextCursor value')
    .transform((s) => BigInt(s))
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
})
  .strict()
  .refine(fromBeforeTo, fromBeforeToIssue);

/** `GET /v1/orgs/:org/audit/export`: the contiguous run of the chain received in [from, to). */
export const ExportAuditQuery = z
  .object({
    format: z.literal('ndjson').default('ndjson'),
    from: Instant.optional(),
    to: Instant.optional(),
  })
  .strict()
  .refine(fromBeforeTo, fromBeforeToIssue);

const WebhookUrl = httpUrl(2000, 'must not carry credentials (requests are signed instead)');

/** `POST /v1/orgs/:org/audit/webhooks`. */
export const CreateAuditWebhookRequest = z
  .object({
    url: WebhookUrl,
    enabled: z.boolean().default(true),
    /** `now` (default): deliver events appended from now on; `beginning`: the whole retained chain first. */
    startAt: z.enum(['now', 'beginning']).default('now'),
  })
  .strict();
export type CreateAuditWebhookRequest = z.input<typeof CreateAuditWebhookRequest>;

/** `GET …/webhooks/:id/deliveries`: newest first. */
export const ListDeliveriesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    /** `nextCursor` of the previous page. */
    cursor: Uuid.optional(),
  })
  .strict();

const OAuthParty = z.object({ clientId: z.string(), clientName: z.string(), userId: z.string(), userEmail: z.string() });

/** `GET /v1/orgs/:org/audit` items: what the live table shows plus the rest of the row; no hashes, no arguments. */
export const AuditListItem = AuditLiveEvent.extend({
  receivedAt: z.string(),
  error: z.string().nullable(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  clientVersion: z.string().nullable(),
  /** An OAuth caller's client and the person who consented (keyId is then the grant id); null for agent keys. */
  oauth: OAuthParty.nullable(),
  sessionId: z.string().nullable(),
  ip: z.string().nullable(),
  actorId: z.string().nullable(),
  /** The management token that made an admin change. */
  actorToken: z.object({ id: z.string(), kind: z.string(), name: z.string(), prefix: z.string() }).nullable(),
});
export type AuditListItem = z.output<typeof AuditListItem>;

export const AuditPage = z.object({ items: z.array(AuditListItem), nextCursor: z.string().nullable() });
export type AuditPage = z.output<typeof AuditPage>;

/** `GET /v1/orgs/:org/audit/:id`: with the chain links and the whole event. */
export const AuditRecord = AuditListItem.extend({
  prevHash: z.string(),
  hash: z.string(),
  payload: z.record(z.string(), z.unknown()),
});
export type AuditRecord = z.output<typeof AuditRecord>;

/** `GET /v1/orgs/:org/audit/verify`. */
export const VerifyResult = z.object({
  valid: z.boolean(),
  /** Events whose links and hashes were recomputed. */
  checked: z.number(),
  /** The first sequence number where the chain is broken (missing, altered or mislinked), or null. */
  firstBrokenSeq: z.number().nullable(),
  reason: z.string().nullable(),
  /** Where the walk started: 1, or the event after the newest retention checkpoint. */
  fromSeq: z.number(),
  /** The head the walk ended at (the chain as it was when verification started). */
  headSeq: z.number(),
  headHash: z.string(),
  checkpoint: z
    .object({ seq: z.number(), hash: z.string(), pruned: z.number(), createdAt: z.string(), signatureValid: z.boolean() })
    .nullable(),
});
export type VerifyResult = z.output<typeof VerifyResult>;
