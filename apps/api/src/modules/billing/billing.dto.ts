import { httpUrl } from '@toolgate/contracts';
import { z } from 'zod';

/** Where quota alerts are POSTed: an absolute http(s) URL without credentials. */
const WebhookUrl = httpUrl(2000, 'must not carry credentials');

/** Owner and billing members configure alert delivery and the local price estimate. */
export const UpdateBillingDto = z
  .object({
    /** null removes the URL (alerts are still recorded for the dashboard). */
    alertWebhookUrl: WebhookUrl.nullable().optional(),
    /** Cents per 1,000 billable calls for this org's estimate; null = the server default. */
    estimatedCentsPer1k: z.number().int().min(0).max(1_000_000).nullable().optional(),
  })
  .strict()
  .refine((d) => Object.keys(d).length > 0, { message: 'nothing to update' });
export type UpdateBillingDto = z.output<typeof UpdateBillingDto>;

export const InvoicesQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(24) }).strict();
export type InvoicesQuery = z.output<typeof InvoicesQuery>;
