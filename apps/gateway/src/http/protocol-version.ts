import { type JsonRpcError, type JsonRpcMessage, RpcCode } from '../core/jsonrpc';
import { isSupportedProtocolVersion, MCP_PROTOCOL_VERSIONS } from '@toolgate/contracts';

/** Where a 2026-07-28 request names its revision (it has no initialize to negotiate in). */
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';

/**
 * The refusal (sent with HTTP 400) for a request in a protocol revision the gateway does not
 * speak, or null. Two signs: an `MCP-Protocol-Version` header naming such a revision, or a
 * protocol version in `params._meta` on a message without a session (the stateless 2026-07-28
 * style). The code is -32600, never a 2026-07-28 error (-32020/-32021/-32022): by that
 * revision's backward-compatibility rules a modern error body marks a *modern* server, and a
 * dual-era client then retries in the modern era instead of falling back to initialize
 * (@ai-sdk/mcp 2.x gives up with "does not automatically switch to legacy initialization").
 * `data.supported` still names the revisions spoken, for people reading the error.
 * `sessionless` is the message when no `Mcp-Session-Id` came with it; an initialize never gets
 * here (it negotiates in its body).
 */
export function versionRefusal(header: string | string[] | undefined, sessionless: JsonRpcMessage | null): JsonRpcError | null {
  const requested = (Array.isArray(header) ? header[0] : header)?.slice(0, 64);
  if (requested !== undefined && !isSupportedProtocolVersion(requested)) {
    return refusal(`Unsupported MCP-Protocol-Version: ${requested}`, requested);
  }
  const meta = sessionless && 'method' in sessionless ? sessionless.params?._meta : undefined;
  if (typeof meta !== 'object' || meta === null || !(META_VERSION in meta)) return null;
  const version = (meta as Record<string, unknown>)[META_VERSION];
  const named = typeof version === 'string' ? version.slice(0, 64) : null;
  return refusal(`Stateless requests${named ? ` (protocol ${named})` : ''} are not supported; initialize a session`, named);
}

function refusal(message: string, requested: string | null): JsonRpcError {
  return { code: RpcCode.InvalidRequest, message, data: { supported: [...MCP_PROTOCOL_VERSIONS], requested } };
}
