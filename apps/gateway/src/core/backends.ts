import { effectiveIsolation, type PolicySnapshot, type SnapshotServer } from '@toolgate/contracts';
import { makeRedactor } from '@toolgate/policy';
import type { BackendPool } from '../backends/pool';
import type { Backend } from '../backends/types';
import { type OpenedSpec, openBackendSpec, ownedSpec, sessionKeySuffix } from './backend-spec';
import type { AgentChannel, Audience, Caller } from './caller';
import type { JsonRpcNotification, JsonRpcRequest } from './jsonrpc';
import type { SessionState } from './sessions';

/** What a backend says outside any call, already scrubbed of the secrets injected into it. */
export interface OutOfCallHandlers {
  notification(backend: Backend, orgId: string, server: SnapshotServer, n: JsonRpcNotification, audience: Audience): void;
  /** A per-session backend's request outside any call, for its session's agent. */
  request(
    caller: Caller,
    server: SnapshotServer,
    session: SessionState,
    r: JsonRpcRequest,
    channel: AgentChannel,
  ): Promise<Record<string, unknown>>;
}

export interface BackendDirectoryDeps {
  pool: BackendPool;
  secretKey: Buffer;
  /** The way to a session's agent outside any call (its GET stream, on whichever worker holds it). */
  sessionChannel?: (sessionId: string) => AgentChannel;
  outOfCall: OutOfCallHandlers;
}

/**
 * Which backend serves a session for a server (shared, its key's or its session's own, as the
 * server's isolation says), with the secrets of each snapshot's servers opened once.
 */
export class BackendDirectory {
  /** Opened backend specs per snapshot object (secrets decrypted once per snapshot version). */
  private readonly specs = new WeakMap<PolicySnapshot, Map<string, OpenedSpec>>();
  private readonly watched = new Set<string>();

  constructor(private readonly deps: BackendDirectoryDeps) {}

  specFor(snapshot: PolicySnapshot, server: SnapshotServer): OpenedSpec {
    let bySnapshot = this.specs.get(snapshot);
    if (!bySnapshot) {
      bySnapshot = new Map();
      this.specs.set(snapshot, bySnapshot);
    }
    let entry = bySnapshot.get(server.id);
    if (!entry) {
      entry = openBackendSpec(this.deps.secretKey, snapshot.orgId, server, snapshot.secrets);
      bySnapshot.set(server.id, entry);
    }
    return entry;
  }

  /** The configuration keys a snapshot wants (the pool closes the backends of the others, whoever owns them). */
  keys(snapshot: PolicySnapshot): string[] {
    return snapshot.servers.map((s) => {
      try {
        return this.specFor(snapshot, s).spec.key;
      } catch {
        return '';
      }
    });
  }

  /** The backend that serves this caller's session for `server`. */
  forSession(caller: Caller, session: SessionState, server: SnapshotServer): Backend {
    const opened = this.specFor(caller.snapshot, server);
    const backend = this.deps.pool.get(ownedSpec(opened.spec, { keyId: caller.key.id, sessionId: session.id }));
    if (!this.watched.has(backend.key)) {
      this.watched.add(backend.key);
      this.watch(backend, opened, caller, session, server);
    }
    return backend;
  }

  /** An agent session ended: close the backends it owned (per-session servers) on this worker. */
  endSession(sessionId: string): void {
    const suffix = sessionKeySuffix(sessionId);
    this.deps.pool.retireWhere((k) => k.endsWith(suffix));
  }

  /** Does this worker run a backend owned by the session? */
  ownsSessionBackends(sessionId: string): boolean {
    const suffix = sessionKeySuffix(sessionId);
    return this.deps.pool.has((k) => k.endsWith(suffix));
  }

  /** The pool closed the backend. */
  forget(key: string): void {
    this.watched.delete(key);
  }

  /**
   * Listen to what the backend says outside any call. The secrets injected into it (fixed by its
   * key) are scrubbed here, each listener's role patterns on delivery. An isolated backend speaks
   * only to its owner; a per-session backend's requests outside any call (roots/list on its
   * standalone stream) can only be its session's, shared and per-key ones stay refused.
   */
  private watch(backend: Backend, opened: OpenedSpec, caller: Caller, session: SessionState, server: SnapshotServer): void {
    const scrub = makeRedactor(opened.secrets, []);
    const isolation = effectiveIsolation(server);
    const audience: Audience =
      isolation === 'per-key' ? { keyId: caller.key.id } : isolation === 'per-session' ? { sessionId: session.id } : null;
    const orgId = caller.snapshot.orgId;
    backend.onUnsolicited((n) => this.deps.outOfCall.notification(backend, orgId, server, scrub(n), audience));
    const channel = isolation === 'per-session' ? this.deps.sessionChannel?.(session.id) : undefined;
    if (channel) backend.onOutOfCallRequest?.((r) => this.deps.outOfCall.request(caller, server, session, scrub(r), channel));
  }
}
