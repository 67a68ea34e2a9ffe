import type { PolicySnapshot, SnapshotKey, SnapshotServer } from '@toolgate/contracts';
import { makeRedactor, type Redactor, redactionPatternsFor } from '@toolgate/policy';
import type { Caller } from './caller';
import { RpcError } from './jsonrpc';

/**
 * The redactors of what leaves the gateway, cached per snapshot object: a server's injected
 * secrets, then the listening key's role patterns (makeRedactor in @toolgate/policy is the rule).
 */
export class Redactors {
  private readonly cache = new WeakMap<PolicySnapshot, Map<string, Redactor>>();

  /** `secretsOf` opens a server's secrets (throws when they do not open). */
  constructor(private readonly secretsOf: (snapshot: PolicySnapshot, server: SnapshotServer) => string[]) {}

  /**
   * For what the caller gets from `server`: its injected secrets, then the caller's role
   * patterns. Without a server (nothing was forwarded), the role patterns alone.
   */
  forCaller(caller: Caller, server: SnapshotServer | null): Redactor {
    return this.of(caller.snapshot, caller.key, server);
  }

  /**
   * What a session of `key` hears outside any call (notifications, a per-session backend's
   * requests) passes that key's role patterns: the backend's secrets are already scrubbed, but
   * each listener's roles redact differently.
   */
  outOfCall(snapshot: PolicySnapshot, key: SnapshotKey): Redactor {
    return this.of(snapshot, key, null);
  }

  /** forCaller() for paths that must not fail: errors and audit events. */
  safe(caller: Caller, server: SnapshotServer | null): Redactor {
    try {
      return this.forCaller(caller, server);
    } catch {
      // The server's secrets do not open (misconfigured): no backend of it runs, none can leak.
      return this.forCaller(caller, null);
    }
  }

  /** An error on its way to the agent, message and data through the caller's redactor. */
  error(caller: Caller, server: SnapshotServer | null, err: RpcError): RpcError {
    const redact = this.safe(caller, server);
    const message = redact(err.message);
    const data = redact(err.data);
    return message === err.message && data === err.data ? err : new RpcError(err.code, message, data);
  }

  private of(snapshot: PolicySnapshot, key: SnapshotKey, server: SnapshotServer | null): Redactor {
    let bySnapshot = this.cache.get(snapshot);
    if (!bySnapshot) {
      bySnapshot = new Map();
      this.cache.set(snapshot, bySnapshot);
    }
    const k = `${server?.id ?? ''}|${key.roleIds.join(',')}`;
    let r = bySnapshot.get(k);
    if (!r) {
      const secrets = server ? this.secretsOf(snapshot, server) : [];
      // Patterns depend on the roles alone (redactionPatternsFor reads nothing else of the principal).
      r = makeRedactor(secrets, redactionPatternsFor(snapshot, { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata }));
      bySnapshot.set(k, r);
    }
    return r;
  }
}
