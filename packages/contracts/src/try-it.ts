import { z } from 'zod';
import { Decision } from './events';

/**
 * "Try it": an admin calls one tool of a server through the real gateway from the dashboard
 * (`POST /v1/orgs/:org/servers/:id/try`). The API never holds a key's secret, so it mints a
 * short-lived agent key of kind `try_it` for the call (with the chosen role, or with the chosen
 * key's roles and metadata so "as this key" decides exactly as that key would), calls the
 * gateway server-side, and revokes the key before answering.
 */

/** A try-it key expires this long after it is minted, even if the revocation after its call is lost (a crash). */
export const TRY_IT_KEY_TTL_SECONDS = 300;

/** Raw-JSON arguments longer than this are refused (the form's fallback textarea). */
export const TRY_IT_MAX_ARGUMENTS_CHARS = 64 * 1024;

/** Whom the call is made as: a role of the org, or an existing (active) key of the org. */
export const TryItAs = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('role'), roleId: z.guid({ error: 'must be a role id' }) }).strict(),
    z.object({ kind: z.literal('key'), keyId: z.guid({ error: 'must be a key id' }) }).strict(),
  ],
  { error: 'must be {"kind":"role","roleId":…} or {"kind":"key","keyId":…}' },
);
export type TryItAs = z.infer<typeof TryItAs>;

/**
 * Arguments as an object (the schema form) or as the text of a JSON object (the raw fallback: sent
 * as typed, so a parse error is reported by the API on the `arguments` field like any other).
 */
const Arguments = z.union(
  [
    z.record(z.string(), z.unknown()),
    z.string().max(TRY_IT_MAX_ARGUMENTS_CHARS, `must be at most ${TRY_IT_MAX_ARGUMENTS_CHARS} characters`),
  ],
  { error: 'must be an object or the text of a JSON object' },
);

export const TryItRequest = z
  .object({
    /** The tool's name as the server lists it (unprefixed). */
    tool: z.string({ error: 'must be a tool name' }).min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
    arguments: Arguments.default({}),
    as: TryItAs,
  })
  .strict();
export type TryItRequestInput = z.input<typeof TryItRequest>;

/** The JSON-RPC error the gateway (or the server behind it) answered, as it came. */
export const TryItRpcError = z.object({ code: z.number(), message: z.string(), data: z.unknown().optional() });

export const TryItResult = z.object({
  server: z.object({ id: z.string(), slug: z.string() }),
  tool: z.string(),
  arguments: z.record(z.string(), z.unknown()),
  /**
   * `ok`: the tool answered (its own `isError` may still say it failed); `denied`: the policy
   * refused it; `error`: the gateway or the server answered a JSON-RPC error (rate limit, quota,
   * bad arguments, server down…).
   */
  outcome: z.enum(['ok', 'denied', 'error']),
  /** The policy's decision and the rule that made it (from the audit entry, else from the error data). */
  decision: Decision.nullable(),
  rule: z.string().nullable(),
  /** Why a call was denied, as the gateway said it. */
  reason: z.string().nullable(),
  /** The tool's result (`CallToolResult`) when outcome is `ok`. */
  result: z.record(z.string(), z.unknown()).nullable(),
  error: TryItRpcError.nullable(),
  /** The audit entry the call made; null if the audit worker had not stored it within a few seconds. */
  audit: z.object({ id: z.string(), seq: z.number() }).nullable(),
  /** The temporary key the call was made with (already revoked). */
  credential: z.object({ keyId: z.string(), name: z.string(), prefix: z.string() }),
  latencyMs: z.number(),
});
export type TryItResult = z.infer<typeof TryItResult>;
