/**
 * The MCP revisions Toolgate speaks, newest first: towards agents (initialize negotiation, the
 * -32022 answer's `data.supported`) and towards upstream servers (what their initialize may
 * answer). One list, so the two sides can never drift apart.
 */
export const MCP_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;

export type McpProtocolVersion = (typeof MCP_PROTOCOL_VERSIONS)[number];

/** What the gateway offers first, to agents and to upstreams. */
export const LATEST_PROTOCOL_VERSION: McpProtocolVersion = MCP_PROTOCOL_VERSIONS[0];

export function isSupportedProtocolVersion(version: unknown): version is McpProtocolVersion {
  return typeof version === 'string' && (MCP_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}
