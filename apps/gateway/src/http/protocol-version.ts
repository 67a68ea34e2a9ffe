import { type JsonRpcError, type JsonRpcMessage, RpcCode } from '../core/jsonrpc';
import { isSupportedProtocolVersion, MCP_PROTOCOL_VERSIONS } from '@toolgate/contracts';

/** Where a 2026-07-28 request names its revision (it has no initialize to negotiate in). */
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';

/**
 * The -32022 refusal for a request in a protocol revision the gateway does not speak, or null.
 * Two signs: an `MCP-Protocol-Version` header naming such a revision, or a protocol version in
 * `params._meta` on a message without a session (the stateless 2026-07-28 style). Answering
 * -32022 with `data.supported`, not "session id required", is what lets a client that tries the
 * newest revision first fall back to initialize. `sessionless` is the message when no
 * `Mcp-Session-Id` came with it; an initialize never gets here (it negotiates in its body).
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
  return { code: RpcCode.UnsupportedVersion, message, data: { supported: [...MCP_PROTOCOL_VERSIONS], requested } };
}
