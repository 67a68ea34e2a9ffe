import type { NetworkPolicy, ServerIsolation, ServerTransport } from '@toolgate/contracts';
import { effectiveIsolation } from '@toolgate/contracts/src/snapshot';

/** How the dashboard names a server's settings; the shapes themselves are in @toolgate/contracts (api/servers.ts). */

export const TRANSPORT_LABEL: Record<ServerTransport, string> = {
  stdio: 'stdio (local command)',
  'streamable-http': 'Streamable HTTP',
  sse: 'SSE (legacy HTTP)',
};

export const NETWORK_LABEL: Record<NetworkPolicy, string> = {
  none: 'None',
  egress: 'Egress (public internet)',
};

/** One line each: what the sandbox lets the server reach. */
export const NETWORK_HINT: Record<NetworkPolicy, string> = {
  none: 'No network at all: the server sees only its own files and the calls it is given (npx or uvx cannot download a package it does not already have).',
  egress: 'Outbound to public internet addresses only; the gateway host, private networks and cloud metadata stay unreachable.',
};

export const ISOLATION_LABEL: Record<ServerIsolation, string> = {
  'per-key': 'Per agent key',
  'per-session': 'Per agent session',
  shared: 'Shared by the organisation',
};

/** One line each: who shares the running server. */
export const ISOLATION_HINT: Record<ServerIsolation, string> = {
  'per-key': 'Each agent key gets its own server process or upstream session; its sessions share it.',
  'per-session': 'Every agent session gets its own; nothing carries over between sessions.',
  shared: 'One for the whole organisation: only for stateless servers, agents would see each other’s state.',
};

/** What a new server is preselected with: the transport's default, as the API decides when none is sent. */
export const DEFAULT_ISOLATION: Record<ServerTransport, ServerIsolation> = {
  stdio: effectiveIsolation({ transport: 'stdio' }),
  'streamable-http': effectiveIsolation({ transport: 'streamable-http' }),
  sse: effectiveIsolation({ transport: 'sse' }),
};

export { LAUNCHER_DIRS } from '@toolgate/policy/src/stdio-commands';
