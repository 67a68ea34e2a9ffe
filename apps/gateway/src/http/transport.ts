import type { CidrBlock } from '@toolgate/policy';
import type { FrameLimits } from '../core/jsonrpc';
import type { McpCore } from '../core/mcp';
import type { Relay } from '../redis/relay';
import type { Logger } from '../log';
import type { GatewayMetrics } from '../metrics';
import type { SessionStorePort, SnapshotSource, StreamEventLog } from '../core/ports';
import { AgentStreams } from './agent-streams';
import { AuthFailureLog } from './auth-failures';
import { Authenticator } from './authenticate';
import { CallRunner } from './calls';
import { SessionSetup } from './initialize';
import { LegacySse } from './legacy-sse';
import { RequestChecks } from './request';
import { StreamableHttp } from './streamable';

export interface TransportOptions {
  publicUrl: string;
  maxBodyBytes: number;
  limits: FrameLimits;
  /** Browser origins allowed besides the public URL's own and, on loopback connections, loopback ones. */
  allowedOrigins: ReadonlySet<string>;
  /** How long the gateway waits for an agent to answer a sampling/elicitation request. */
  agentRequestTimeoutMs: number;
  /** Proxies whose X-Forwarded-For / Forwarded name the client (see client-ip.ts). */
  trustedProxies: readonly CidrBlock[];
  /** TOOLGATE_SECRET_KEY: OAuth access tokens are verified with a key derived from it (authenticate.ts). */
  secretKey: Buffer;
  /** Audit records of failed authentications per org and client address per minute. */
  authFailureAuditPerMinute: number;
  /** Where GET and call streams record their events for Last-Event-ID resumption. */
  eventLog: StreamEventLog;
  /** The per-request log (calls.ts). */
  requestLog: Logger;
}

/**
 * The agent-facing transports, put together: Streamable HTTP (`/mcp/{org}[/{server}]`: POST, GET,
 * DELETE; streamable.ts) and the deprecated HTTP+SSE pair (`/sse/{org}[/{server}]` + `/messages`;
 * legacy-sse.ts). Both authenticate the key against the org snapshot (authenticate.ts), keep
 * session state in Redis (initialize.ts, request.ts), and hand each message to McpCore
 * (calls.ts); the streams this worker holds hear upstream notifications and snapshot changes
 * (agent-streams.ts).
 */
export class McpTransport {
  /** POST, GET, DELETE /mcp/{org}[/{server}]. */
  readonly streamable: StreamableHttp;
  /** GET /sse/{org}[/{server}], POST /messages. */
  readonly legacy: LegacySse;
  /** This worker's streams: the session channel, upstream notifications, revocation. */
  readonly streams: AgentStreams;
  /** The requests being executed (graceful shutdown waits for them). */
  readonly calls: CallRunner;

  constructor(
    core: McpCore,
    snapshots: SnapshotSource,
    sessions: SessionStorePort,
    relay: Relay,
    metrics: GatewayMetrics,
    opts: TransportOptions,
  ) {
    const authFailures = new AuthFailureLog({
      count: (reason) => metrics.authFailures.inc({ reason }),
      emit: (orgId, rec, ip) => core.emitUnauthenticated(orgId, rec, ip),
      perMinute: opts.authFailureAuditPerMinute,
    });
    const auth = new Authenticator(snapshots, authFailures, opts);
    const streams = new AgentStreams(core, snapshots, sessions, relay, opts.agentRequestTimeoutMs);
    const checks = new RequestChecks(sessions, opts);
    const calls = new CallRunner(core, relay, metrics, opts.agentRequestTimeoutMs, opts.requestLog);
    const setup = new SessionSetup(core, sessions, metrics, opts.requestLog);
    this.streamable = new StreamableHttp({
      checks,
      auth,
      calls,
      setup,
      streams,
      core,
      sessions,
      limits: opts.limits,
      eventLog: opts.eventLog,
    });
    this.legacy = new LegacySse({ checks, auth, calls, setup, streams, core, snapshots, sessions, relay });
    this.streams = streams;
    this.calls = calls;
  }
}
