/** Shapes the API returns for servers (apps/api/src/modules/servers/servers.view.ts). */

export type Transport = 'stdio' | 'streamable-http' | 'sse';
export type Health = 'unknown' | 'ok' | 'error';
/** What a stdio server's sandbox may reach (HTTP servers are always `none`). */
export type NetworkPolicy = 'none' | 'egress';

/** Who shares a server's upstream process or session. */
export type Isolation = 'per-key' | 'per-session' | 'shared';

/** A value taken literally or from an org secret, as the API writes it: `{value}` or `{secret}`. */
export type ValueSource = { value: string } | { secret: string };

/** What the API shows instead of a credential-like literal; sending it back keeps the stored value. */
export const MASK = '••••';

export interface JsonSchema {
  type?: string | string[];
  description?: string;
  title?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema | JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  $ref?: string;
  [k: string]: unknown;
}

export interface CatalogTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: JsonSchema;
  outputSchema?: JsonSchema;
  annotations?: { title?: string; readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
}

export interface CatalogPrompt {
  name: string;
  title?: string;
  description?: string;
  arguments?: { name: string; description?: string; required?: boolean }[];
}

export interface CatalogResource {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

export interface CatalogResourceTemplate {
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

export interface Catalog {
  protocolVersion: string | null;
  serverInfo: { name: string; version: string; title?: string } | null;
  capabilities: Record<string, unknown>;
  instructions: string | null;
  tools: CatalogTool[];
  prompts: CatalogPrompt[];
  resources: CatalogResource[];
  resourceTemplates: CatalogResourceTemplate[];
}

export interface ServerView {
  id: string;
  slug: string;
  name: string;
  description: string | null;
  transport: Transport;
  command: string | null;
  args: string[];
  network: NetworkPolicy;
  /** Effective: the admin's choice or the transport's default. */
  isolation: Isolation;
  url: string | null;
  headers: Record<string, ValueSource>;
  env: Record<string, ValueSource>;
  enabled: boolean;
  tags: string[];
  timeoutMs: number;
  catalog: Catalog | null;
  catalogFetchedAt: string | null;
  lastProbeAt: string | null;
  lastProbeError: string | null;
  health: Health;
  endpoints: { aggregated: string; server: string };
  createdAt: string;
  updatedAt: string;
}

export interface SecretView {
  name: string;
  description: string | null;
  createdAt: string;
  updatedAt: string;
  usedBy: { serverId: string; slug: string }[];
}

export const TRANSPORT_LABEL: Record<Transport, string> = {
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

export const ISOLATION_LABEL: Record<Isolation, string> = {
  'per-key': 'Per agent key',
  'per-session': 'Per agent session',
  shared: 'Shared by the organisation',
};

/** One line each: who shares the running server. */
export const ISOLATION_HINT: Record<Isolation, string> = {
  'per-key': 'Each agent key gets its own server process or upstream session; its sessions share it.',
  'per-session': 'Every agent session gets its own; nothing carries over between sessions.',
  shared: 'One for the whole organisation: only for stateless servers, agents would see each other’s state.',
};

/**
 * What a new server is preselected with; the API decides the same way when none is sent
 * (effectiveIsolation in @toolgate/contracts, which the dashboard does not import).
 */
export const DEFAULT_ISOLATION: Record<Transport, Isolation> = { stdio: 'per-key', 'streamable-http': 'per-session', sse: 'per-session' };

/** Shapes of GET /v1/orgs/:org/sandbox (apps/api/src/modules/sandbox/sandbox.dto.ts). */
export type SandboxSummary = 'confined' | 'unconfined' | 'failing' | 'no-gateway';

export interface GatewayStatus {
  schemaVersion: 1;
  workerId: string;
  sandbox: {
    mode: 'bwrap' | 'off';
    ok: boolean;
    detail: string;
    egress: { ok: boolean; detail: string };
    limits: 'cgroup-v2' | 'rlimit';
  };
  at: string;
}

export interface SandboxView {
  allowedCommands: string[];
  gateways: GatewayStatus[];
  summary: SandboxSummary;
}

/** Where a listed launcher may also be named by absolute path (the API's LAUNCHER_DIRS). */
export const LAUNCHER_DIRS = ['/usr/bin', '/usr/local/bin', '/bin'];
