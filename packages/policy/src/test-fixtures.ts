/**
 * Builders for specs: snapshots are made through compile() so every spec runs against a
 * schema-valid snapshot exactly like the gateway's. Not exported from the package.
 */
import type { PolicySnapshot, RoleRulesInput } from '@toolgate/contracts';
import { type CompileInput, type CompileKeyInput, type CompileServerInput, compile } from './compile';
import type { Principal } from './types';

/** A syntactically valid sealed secret. */
export const SEALED = 'v1.aXZpdml2aXZpdg==.dGFndGFndGFn.Y2lwaGVy';

/** A deterministic fake sha256 hex for key number `n`. */
export function fakeHash(n: number): string {
  return n.toString(16).padStart(64, '0');
}

export interface RoleSpec {
  id?: string;
  name: string;
  rules: RoleRulesInput;
}

export function key(overrides: Partial<CompileKeyInput> & { id: string }): CompileKeyInput {
  return {
    name: `key-${overrides.id}`,
    prefix: `tg_${overrides.id}`,
    hash: fakeHash(1),
    roleIds: [],
    metadata: {},
    expiresAt: null,
    revokedAt: null,
    ...overrides,
  };
}

export function server(overrides: Partial<CompileServerInput> & { id: string; slug: string }): CompileServerInput {
  return {
    name: overrides.slug,
    transport: 'stdio',
    command: 'npx',
    args: ['-y', 'some-mcp-server'],
    url: null,
    headers: {},
    env: {},
    enabled: true,
    tags: [],
    timeoutMs: 30_000,
    ...overrides,
  };
}

export function baseInput(overrides: Partial<CompileInput> = {}): CompileInput {
  return {
    org: { id: 'org_1', slug: 'acme', plan: 'team', monthlyCallQuota: 100_000 },
    version: 1,
    compiledAt: new Date('2025-01-02T03:04:05.000Z'),
    keys: [],
    servers: [],
    roles: [],
    secrets: {},
    ...overrides,
  };
}

/** A snapshot holding the given roles (ids default to `r_<name>`). */
export function snapshotWith(roles: RoleSpec[], overrides: Partial<CompileInput> = {}): PolicySnapshot {
  return compile(
    baseInput({
      roles: roles.map((role) => ({ id: role.id ?? `r_${role.name}`, name: role.name, rules: role.rules })),
      ...overrides,
    }),
  );
}

/** A principal holding the named roles (`r_<name>` ids, as snapshotWith assigns them). */
export function principalWith(roleNames: string[], extra: Partial<Principal> = {}): Principal {
  return { keyId: 'k_1', roleIds: roleNames.map((name) => `r_${name}`), metadata: {}, ...extra };
}

/**
 * Does `text` still carry `secret`, in any form an attacker could decode: as is, from any base64
 * or base64url run (read at every offset, so a secret inside a longer encoding counts), from hex,
 * or percent/form-decoded. The oracle of the redaction tests (here and in the gateway's e2e).
 */
export function carriesSecret(text: string, secret: string): boolean {
  if (text.includes(secret)) return true;
  for (const run of text.match(/[A-Za-z0-9+/_-]{6,}/g) ?? []) {
    for (let skip = 0; skip < 4; skip++) {
      for (const enc of ['base64', 'base64url'] as const) {
        if (Buffer.from(run.slice(skip), enc).toString('latin1').includes(Buffer.from(secret).toString('latin1'))) return true;
      }
    }
  }
  for (const run of text.match(/(?:[0-9a-fA-F]{2})+/g) ?? []) {
    for (const at of [run, run.slice(1)]) if (Buffer.from(at, 'hex').toString('utf8').includes(secret)) return true;
  }
  // Percent escapes decoded one by one: a stray `%` elsewhere must not hide an encoded secret.
  const percentDecoded = (t: string) =>
    Buffer.concat(
      t.split(/(%[0-9a-fA-F]{2})/).map((p) => (/^%[0-9a-fA-F]{2}$/.test(p) ? Buffer.from(p.slice(1), 'hex') : Buffer.from(p))),
    ).toString('utf8');
  for (const candidate of [text, text.replace(/\+/g, ' ')]) if (percentDecoded(candidate).includes(secret)) return true;
  return false;
}
