import * as api from '@toolgate/contracts';
import type { z } from 'zod';

/**
 * The audit API's request schemas live in @toolgate/contracts (api/audit.ts). Declared here again
 * (not re-exported) because each also names its parsed type, and SWC drops a re-export that
 * shares its name with a local type.
 */
export const ListAuditQuery = api.ListAuditQuery;
export type ListAuditQuery = z.output<typeof ListAuditQuery>;
export const ExportAuditQuery = api.ExportAuditQuery;
export type ExportAuditQuery = z.output<typeof ExportAuditQuery>;
export const ListDeliveriesQuery = api.ListDeliveriesQuery;
export type ListDeliveriesQuery = z.output<typeof ListDeliveriesQuery>;
export const CreateWebhookDto = api.CreateAuditWebhookRequest;
export type CreateWebhookDto = z.output<typeof CreateWebhookDto>;
