import type { AuditFilterInput, AuditListItem, AuditLiveEvent } from '@toolgate/contracts';
import { Decision, Outcome } from '@toolgate/contracts/src/outcomes';

/** The audit log's filters and rows as the dashboard handles them; the API's shapes are in @toolgate/contracts (api/audit.ts). */

export const DECISIONS = Decision.options;
export const OUTCOMES = Outcome.options;

/** Suggestions for the method filter (any JSON-RPC method or `admin.<action>` works). */
export const METHODS = [
  'tools/call',
  'tools/list',
  'prompts/get',
  'prompts/list',
  'resources/read',
  'resources/list',
  'completion/complete',
  'initialize',
] as const;

/** What a table row needs: the fields the live socket sends, plus (list items only) the OAuth party. */
export type AuditRow = AuditLiveEvent & { oauth?: AuditListItem['oauth'] };

/** The filters of the log, as URL search params (and API query params), as typed. */
export type AuditFilters = { [K in keyof AuditFilterInput]?: string };

export const FILTER_NAMES = [
  'from',
  'to',
  'keyId',
  'serverId',
  'target',
  'method',
  'decision',
  'outcome',
] as const satisfies readonly (keyof AuditFilters)[];
