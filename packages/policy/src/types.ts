/** Who is calling: built by the gateway from the authenticated SnapshotKey and the connection. */
export interface Principal {
  readonly keyId: string;
  readonly roleIds: readonly string[];
  /** The key's metadata (what `${key.metadata.*}` references resolve against). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Client address as seen by the gateway; required when any of the key's roles has an ipAllow list. */
  readonly ip?: string | null;
}

export type RequestKind = 'tool' | 'prompt' | 'resource';

/** What the principal wants to do. */
export interface PolicyRequest {
  readonly kind: RequestKind;
  /** Server slug (unprefixed). */
  readonly server: string;
  /** Tool or prompt name (without the `server__` prefix), or the resource URI for 'resource'. */
  readonly name: string;
  /** Tool arguments (checked against parameter constraints). */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** The rule that decided, e.g. `{ roleId, roleName: 'support', path: 'tools[2]' }`. */
export interface RuleRef {
  readonly roleId: string;
  readonly roleName: string;
  /** `tools[i]`, `prompts[i]`, `resources[i]` or `ipAllow`. */
  readonly path: string;
}

export interface Decision {
  readonly allowed: boolean;
  readonly effect: 'allow' | 'deny';
  /** Human-readable; safe to show to the agent and to record in audit. */
  readonly reason: string;
  /** The deciding rule; null for default deny and for keys without (known) roles. */
  readonly rule: RuleRef | null;
}

/** `role:<roleName>/<path>`, as recorded in audit events and shown in JSON-RPC errors. */
export function ruleLabel(rule: RuleRef): string {
  return `role:${rule.roleName}/${rule.path}`;
}
