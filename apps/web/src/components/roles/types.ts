/** Shapes the API returns for roles, keys and the policy simulator (see apps/api/src/modules/{roles,keys,policy}). */

export type Effect = 'allow' | 'deny';

export interface ParamConstraint {
  equals?: string | number | boolean;
  oneOf?: (string | number | boolean)[];
  pattern?: string;
  max?: number;
  min?: number;
  maxLength?: number;
  required?: boolean;
}

export interface RoleRules {
  tools?: { effect: Effect; match: string; constraints?: Record<string, ParamConstraint> }[];
  prompts?: { effect: Effect; match: string }[];
  resources?: { effect: Effect; server?: string; uri: string }[];
  rateLimits?: { scope: 'key' | 'tool'; perMinute: number; burst?: number; match?: string }[];
  redact?: { name: string; pattern: string; replacement?: string }[];
  ipAllow?: string[];
}

export interface RoleView {
  id: string;
  name: string;
  description: string | null;
  rules: RoleRules;
  keyCount: number;
  createdAt: string;
  updatedAt: string;
}

export type KeyStatus = 'active' | 'expired' | 'revoked';
export type MetadataValue = string | number | boolean;

export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  roles: { id: string; name: string }[];
  metadata: Record<string, MetadataValue>;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
  updatedAt: string;
  rotatedToId: string | null;
  status: KeyStatus;
}

/** What POST /keys and POST /keys/:id/rotate answer: the view plus the secret, shown once. */
export type KeyWithSecret = KeyView & { key: string; rotatedFromId?: string };

export type SimulatedMethod = 'tools/call' | 'prompts/get' | 'resources/read';

export interface SimulateResult {
  allowed: boolean;
  effect: Effect;
  reason: string;
  /** `roleId` is null for a draft role. */
  rule: { roleId: string | null; roleName: string; path: string; label: string } | null;
  snapshotVersion: number;
  /** null when a draft role was simulated (no key involved). */
  key: { id: string; name: string; roles: { id: string; name: string | null }[] } | null;
  draft?: boolean;
  request: { kind: 'tool' | 'prompt' | 'resource'; server: string; name: string };
  warnings: string[];
}

/** The part of a server the simulator needs: its slug and catalogue (for name suggestions). */
export interface ServerSummary {
  id: string;
  slug: string;
  name: string;
  enabled: boolean;
  /** Never probed when null: the role builder probes such servers to learn their tools. */
  lastProbeAt?: string | null;
  catalog: {
    /** `inputSchema` is the tool's JSON Schema: the role builder offers argument constraints from it. */
    tools?: { name: string; description?: string; inputSchema?: unknown }[];
    prompts?: { name: string; description?: string }[];
    resources?: { uri: string; name?: string }[];
  } | null;
}
