import * as api from '@toolgate/contracts';
import type { z } from 'zod';

/**
 * The usage API's query schemas live in @toolgate/contracts (api/usage.ts). Declared here again
 * (not re-exported) because each also names its parsed type, and SWC drops a re-export that
 * shares its name with a local type.
 */
export const UsageQuery = api.UsageQuery;
export type UsageQuery = z.output<typeof UsageQuery>;
export const AlertsQuery = api.AlertsQuery;
export type AlertsQuery = z.output<typeof AlertsQuery>;
