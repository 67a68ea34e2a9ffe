import type { PolicySnapshot, SnapshotKey } from '@toolgate/contracts';
import { seesServer } from '@toolgate/policy';
import type { JsonRpcNotification } from '../core/jsonrpc';
import { logPasses } from '../core/logging';
import type { McpCore } from '../core/mcp';
import { type AgentChannel, type Audience, type Caller, currentKey } from '../core/caller';
import { exposedUri } from '../core/naming';
import type { Relay } from '../redis/relay';
import type { SessionState } from '../core/sessions';
import type { SessionStorePort, SnapshotSource } from '../core/ports';
import { OpenStreams, type StreamOwner } from './open-streams';
import type { SseStream } from './sse';

/**
 * The way to agents outside any call: the GET and legacy SSE streams this worker holds (tracked
 * in open-streams.ts, which also ends them on revocation), reached through the relay from any
 * worker; and the fan-out of upstream notifications to the streams whose session may hear them.
 */
export class AgentStreams {
  /** Open GET and legacy SSE streams on this worker (notification fan-out, revocation). */
  private readonly streams = new OpenStreams();

  constructor(
    private readonly core: McpCore,
    private readonly snapshots: SnapshotSource,
    private readonly sessions: SessionStorePort,
    private readonly relay: Relay,
    /** How long the gateway waits for an agent to answer a sampling/elicitation request. */
    private readonly agentRequestTimeoutMs: number,
  ) {}

  /** Track a session's stream and deliver the relay's messages for the session to it; the returned function undoes both. */
  register(session: SessionState, caller: Caller, stream: SseStream): () => void {
    const forget = this.streams.add(session.orgId, session.id, session.server, caller.key, caller.ip, () => stream.end());
    const unpush = this.relay.registerPush(session.id, (m) => stream.send(m));
    return () => {
      unpush();
      forget();
    };
  }

  /**
   * The way to a session's agent outside any call: requests and notifications go out on its GET
   * (or legacy SSE) stream through the relay, whichever worker holds it, and its answer may be
   * POSTed to any worker. With no stream open anywhere the request waits out its timeout.
   */
  sessionChannel(sessionId: string): AgentChannel {
    return {
      notify: (n) => this.relay.push(sessionId, n),
      request: (method, params) => {
        const { id, result } = this.relay.newRequest(sessionId, this.agentRequestTimeoutMs);
        this.relay.push(sessionId, { jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
        return result;
      },
    };
  }

  /**
   * Fan an upstream's unsolicited notification (list_changed, resources/updated) out to this
   * worker's open streams of the org that may hear it, namespacing URIs for the aggregated
   * endpoint: only the owner's streams for an isolated backend (`audience`), and for a shared
   * one only sessions whose key, as the current snapshot has it, can see that server.
   */
  broadcast(orgId: string, server: string, n: JsonRpcNotification, audience: Audience): void {
    const snapshot = this.snapshots.get(orgId);
    /** The key a stream listens with, as the snapshot has it now, if it may hear this; else null. */
    const listener = (sessionId: string, owner: StreamOwner): SnapshotKey | null => {
      const owns = audience === null || ('keyId' in audience ? owner.key.id === audience.keyId : sessionId === audience.sessionId);
      // Even an owner hears only while its roles still see the server (rules may change under the same role ids).
      const key = owns && snapshot ? currentKey(snapshot, owner.key) : undefined;
      if (!snapshot || !key) return null;
      return seesServer(snapshot, { keyId: key.id, roleIds: key.roleIds, metadata: key.metadata, ip: owner.ip }, server) ? key : null;
    };
    const uri = n.params?.uri;
    const aggregated = typeof uri === 'string' ? { ...n, params: { ...n.params, uri: exposedUri(server, uri) } } : n;
    // Two kinds depend on the session's state: resources/updated goes only to sessions that
    // subscribed to that resource (a subscription passed the policy check; other sessions, keys
    // and roles of the org must not learn of it), a log message only to sessions whose
    // logging/setLevel lets it through.
    const subscription = n.method === 'notifications/resources/updated' && typeof uri === 'string' ? exposedUri(server, uri) : null;
    const logLevel = n.method === 'notifications/message' ? n.params?.level : undefined;
    const wanted = (s: SessionState | null): boolean =>
      s !== null &&
      (subscription === null || (s.subscriptions?.includes(subscription) ?? false)) &&
      (logLevel === undefined || logPasses(logLevel, s.logLevel));
    for (const [sessionId, owner] of this.streams.of(orgId)) {
      const scope = owner.scope;
      const key = scope === null || scope === server ? listener(sessionId, owner) : null;
      if (!snapshot || !key) continue;
      // Each listener hears it through its own roles' redaction.
      const message = this.core.outOfCallRedactor(snapshot, key)(scope === null ? aggregated : n);
      if (subscription === null && logLevel === undefined) this.relay.push(sessionId, message);
      else {
        this.sessions.get(sessionId).then(
          (s) => {
            if (wanted(s)) this.relay.push(sessionId, message);
          },
          () => undefined,
        );
      }
    }
  }

  /**
   * The org's policy or servers changed: what each of its sessions may list may have changed too.
   * Tell this worker's streams of the org (every worker hears of the snapshot itself), so agents
   * that cache their lists re-list instead of calling what they may no longer call.
   */
  listsChanged(orgId: string): void {
    for (const [sessionId] of this.streams.of(orgId)) {
      for (const method of LIST_CHANGED_NOTIFICATIONS) this.relay.push(sessionId, { jsonrpc: '2.0', method });
    }
  }

  /** The org's snapshot changed: streams of keys revoked, expired or given other roles end now. */
  snapshotChanged(orgId: string, next: PolicySnapshot | null): void {
    this.streams.snapshotChanged(orgId, next);
  }

  /** Shutdown: every stream this worker holds ends, so its agent reconnects to another worker. */
  endAll(): void {
    this.streams.endAll();
  }

  get size(): number {
    return this.streams.size;
  }
}

const LIST_CHANGED_NOTIFICATIONS = [
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
] as const;
