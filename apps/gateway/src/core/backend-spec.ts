import { createHash } from 'node:crypto';
import { effectiveIsolation, openSecret, type SnapshotServer, type ValueSource } from '@toolgate/contracts';
import type { BackendSpec } from '../backends/types';
import { RpcCode, RpcError } from './jsonrpc';

/** A backend's spec and the secret values opened into it (what redaction must scrub). */
export interface OpenedSpec {
  spec: BackendSpec;
  secrets: string[];
}

/**
 * Open the sealed secrets a server references and build its BackendSpec. Agent calls (from the
 * snapshot) and probes (from a probe request) both start backends through this.
 * Throws RpcError UpstreamUnavailable naming a secret that is missing or does not open.
 */
export function openBackendSpec(
  secretKey: Buffer,
  orgId: string,
  server: SnapshotServer,
  sealed: Readonly<Record<string, string>>,
): OpenedSpec {
  const secrets: string[] = [];
  const open = (sources: Record<string, ValueSource>) => {
    const out: Record<string, string> = {};
    for (const [k, src] of Object.entries(sources)) {
      if ('value' in src) {
        out[k] = src.value;
        continue;
      }
      const value = sealed[src.secret];
      if (!value) throw misconfigured(server, `secret ${src.secret} is missing`);
      try {
        out[k] = openSecret(secretKey, orgId, value);
      } catch {
        throw misconfigured(server, `secret ${src.secret} could not be decrypted (was TOOLGATE_SECRET_KEY changed?)`);
      }
      secrets.push(out[k]);
    }
    return out;
  };
  const env = open(server.env);
  const headers = open(server.headers);
  // The key changes when anything that shapes the running backend changes, secrets included.
  const key = `${orgId}:${server.id}:${createHash('sha256')
    .update(JSON.stringify([server.transport, server.command, server.args, server.url, env, headers, server.timeoutMs, server.network]))
    .digest('hex')
    .slice(0, 16)}`;
  return { spec: { orgId, server, env, headers, secrets, key }, secrets };
}

/** The agent a call comes from: its key and its session pick the backend of an isolated server. */
export interface BackendOwner {
  keyId: string;
  sessionId: string;
}

/**
 * The spec of the backend that serves `owner` for this server: the shared one for `shared`, else
 * the same configuration under a key that names the owner's key (`per-key`) or session
 * (`per-session`), so the pool gives each its own process or upstream session. `configKey`
 * stays the configuration's, which is what a snapshot change retires by.
 */
export function ownedSpec(spec: BackendSpec, owner: BackendOwner): BackendSpec {
  switch (effectiveIsolation(spec.server)) {
    case 'shared':
      return spec;
    case 'per-key':
      return { ...spec, configKey: spec.key, key: `${spec.key}|key:${owner.keyId}` };
    case 'per-session':
      return { ...spec, configKey: spec.key, key: `${spec.key}${sessionKeySuffix(owner.sessionId)}` };
  }
}

/** How the pool key of a per-session backend ends (its session ended → close it). */
export function sessionKeySuffix(sessionId: string): string {
  return `|session:${sessionId}`;
}

function misconfigured(server: SnapshotServer, what: string): RpcError {
  return new RpcError(RpcCode.UpstreamUnavailable, `Server ${server.slug} is misconfigured: ${what}`);
}
