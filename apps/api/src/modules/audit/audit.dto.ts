import { Decision, httpUrl, Outcome } from '@toolgate/contracts';
import { z } from 'zod';

/** An ISO 8601 instant with an explicit zone (`Z` or an offset); anything else is a 400. */
const Instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const Uuid = z.uuid().transform((s) => s.toLowerCase());

const fromBeforeTo = (q: { from?: Date; to?: Date }) => !(q.from && q.to && q.from.getTime() >= q.to.getTime());
const fromBeforeToIssue = { message: 'from must be before to', path: ['to'] };

/** `GET /v1/orgs/:org/audit`: newest first, keyset pagination on seq. */
export const ListAuditQuery = z
  .object({
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
export type ListAuditQuery = z.output<typeof ListAuditQuery>;

/** `GET /v1/orgs/:org/audit/export`: the contiguous run of the chain received in [from, to). */
export const ExportAuditQuery = z
  .object({
    format: z.literal('ndjson').default('ndjson'),
    from: Instant.optional(),
    to: Instant.optional(),
  })
  .strict()
  .refine(fromBeforeTo, fromBeforeToIssue);
export type ExportAuditQuery = z.output<typeof ExportAuditQuery>;

const WebhookUrl = httpUrl(2000, 'must not carry credentials (requests are signed instead)');

/** `POST /v1/orgs/:org/audit/webhooks`. */
export const CreateWebhookDto = z
  .object({
    url: WebhookUrl,
    enabled: z.boolean().default(true),
    /** `now` (default): deliver events appended from now on; `beginning`: the whole retained chain first. */
    startAt: z.enum(['now', 'beginning']).default('now'),
  })
  .strict();
export type CreateWebhookDto = z.output<typeof CreateWebhookDto>;

/** `GET …/webhooks/:id/deliveries`: newest first. */
export const ListDeliveriesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    /** `nextCursor` of the previous page. */
    cursor: Uuid.optional(),
  })
  .strict();
export type ListDeliveriesQuery = z.output<typeof ListDeliveriesQuery>;
