import type { PolicySnapshot } from '@toolgate/contracts';
import { type BackendFactories, BackendPool } from './backends/pool';
import { SseBackend } from './backends/http/sse';
import { StreamableHttpBackend } from './backends/http/streamable';
import { createLauncher, type Launcher } from './backends/sandbox/launcher';
import { StdioBackend } from './backends/stdio';
import type { BackendSpec } from './backends/types';
import { edgeRateLimitSettings, type GatewayConfig, sandboxOptions } from './config';
import { McpCore } from './core/mcp';
import type {
  EventSink,
  QuotaPort,
  RateLimiterPort,
  SessionStorePort,
  SnapshotSource,
  StreamEventLog,
  TaskRemotePort,
  TaskStorePort,
} from './core/ports';
import { TaskBroker } from './core/tasks';
import { McpTransport } from './http/transport';
import { createLogger, type Logger } from './log';
import { createGatewayMetrics, type GatewayMetrics, setCircuitGauge } from './metrics';
import { UpstreamGuard } from './net/upstream-guard';
import type { Relay } from './redis/relay';

/** Where the pipeline keeps and sends what outlives one message: Redis and BullMQ in the platform, memory and files standalone. */
export interface PipelinePorts {
  snapshots: SnapshotSource;
  sessions: SessionStorePort;
  relay: Relay;
  limiter: RateLimiterPort;
  quota: QuotaPort;
  events: EventSink;
  taskStore: TaskStorePort;
  /** Reaches tasks whose backend runs on another worker; null when this process holds every backend. */
  taskRemote: TaskRemotePort | null;
  eventLog: StreamEventLog;
}

/** The gateway's message pipeline, whatever stores it runs on. */
export interface Pipeline {
  core: McpCore;
  transport: McpTransport;
  pool: BackendPool;
  tasks: TaskBroker;
  factories: BackendFactories;
  launcher: Launcher;
  metrics: GatewayMetrics;
  log: Logger;
  /** Sets the gauges the pipeline knows (backends, streams, snapshots, circuits) before a scrape. */
  refreshGauges(): void;
}

/**
 * Wires backends (sandboxed stdio, Streamable HTTP, SSE), the MCP core and the agent-facing
 * transports onto the given ports, and keeps backends and streams in step with snapshot changes.
 * The platform gateway (gateway.ts) and the standalone one (`toolgate gateway`) both run this.
 */
export async function createPipeline(
  config: GatewayConfig,
  ports: PipelinePorts,
  /** Where the operator log's JSON lines go (default stderr). */
  logWrite?: (line: string) => void,
): Promise<Pipeline> {
  const { snapshots, sessions, relay } = ports;
  const metrics = createGatewayMetrics();
  const log = createLogger('gateway', config.LOG_LEVEL, logWrite);
  const launcher = await createLauncher(sandboxOptions(config));
  announceSandbox(launcher, log);
  const stdioLog = stdioLogger(createLogger('stdio', config.LOG_LEVEL, logWrite), metrics);
  const upstreamGuard = new UpstreamGuard(config.HTTP_UPSTREAM_ALLOW);
  const upstreamLog = (spec: BackendSpec) => (message: string) => log.warn(message, { org: spec.orgId, server: spec.server.slug });
  let core: McpCore | null = null;
  // Agent calls and probes start servers the same way (same backends, same sandbox).
  const factories: BackendFactories = {
    stdio: (spec) => new StdioBackend(spec, { memoryLimitMb: config.STDIO_MEMORY_LIMIT_MB, launcher, logger: stdioLog }),
    'streamable-http': (spec) => new StreamableHttpBackend(spec, { guard: upstreamGuard, onProtocolError: upstreamLog(spec) }),
    sse: (spec) => new SseBackend(spec, { guard: upstreamGuard, onProtocolError: upstreamLog(spec) }),
  };
  const pool = new BackendPool({
    // A retired backend's per-backend state (catalogue cache, notification subscription) goes too.
    onRetire: (key) => core?.forgetBackend(key),
    idleMs: config.BACKEND_IDLE_MS,
    maxBackends: config.MAX_BACKENDS,
    factories,
  });

  let transport: McpTransport | null = null;
  const tasks = new TaskBroker({
    store: ports.taskStore,
    pool,
    workerId: relay.workerId,
    remote: ports.taskRemote,
    sessionChannel: (sessionId) => transport!.streams.sessionChannel(sessionId),
  });
  core = new McpCore({
    tasks,
    pool,
    limiter: ports.limiter,
    edgeLimits: edgeRateLimitSettings(config),
    quota: ports.quota,
    events: ports.events,
    secretKey: config.TOOLGATE_SECRET_KEY,
    // Every worker's streams, not only this worker's: the agent's stream may be held elsewhere.
    onUpstreamNotification: (orgId, server, n, audience) => relay.fanOut(orgId, server, n, audience),
    sessionChannel: (sessionId) => transport!.streams.sessionChannel(sessionId),
    currentSnapshot: (orgId) => snapshots.get(orgId),
    saveSession: (session) => sessions.update(session),
  });
  relay.onFanOut((orgId, server, n, audience) => transport?.streams.broadcast(orgId, server, n, audience));
  transport = new McpTransport(core, snapshots, sessions, relay, metrics, {
    publicUrl: config.PUBLIC_GATEWAY_URL,
    maxBodyBytes: config.MAX_BODY_BYTES,
    limits: { maxDepth: config.MAX_JSON_DEPTH, maxStringLength: config.MAX_STRING_LENGTH, maxMethodLength: 128 },
    allowedOrigins: new Set(
      config.ALLOWED_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    ),
    agentRequestTimeoutMs: 120_000,
    trustedProxies: config.TRUSTED_PROXIES,
    secretKey: config.TOOLGATE_SECRET_KEY,
    authFailureAuditPerMinute: config.AUTH_FAILURE_AUDIT_PER_MINUTE,
    eventLog: ports.eventLog,
    requestLog: createLogger('request', config.LOG_LEVEL, logWrite),
  });
  const mcp = core;
  const agents = transport;

  // A snapshot change (server edited, disabled or removed; secret rotated) retires the
  // backends nobody wants any more.
  snapshots.onChange(() => {
    const wanted = new Set<string>();
    for (const orgId of snapshots.orgIds()) {
      const snap = snapshots.get(orgId);
      if (snap) for (const k of mcp.backendKeys(snap)) wanted.add(k);
    }
    pool.retain(wanted);
  });

  // A key revoked, expired or given other roles loses its open streams first, so the
  // list_changed notices below reach only the streams that stay.
  snapshots.onChange((orgId, next) => agents.streams.snapshotChanged(orgId, next));

  // Roles, servers or a key's roles changed: the org's agents may now see other lists.
  snapshots.onChange((orgId, next, prev) => {
    if (next && prev && listShaping(next) !== listShaping(prev)) agents.streams.listsChanged(orgId);
  });

  return {
    core: mcp,
    transport: agents,
    pool,
    tasks,
    factories,
    launcher,
    metrics,
    log,
    refreshGauges: () => {
      metrics.backends.reset();
      for (const s of pool.stats()) metrics.backends.set({ transport: s.transport, health: s.health }, s.count);
      metrics.snapshots.set(snapshots.size);
      metrics.streams.set(agents.streams.size);
      setCircuitGauge(metrics, pool.circuits(), (orgId) => snapshots.get(orgId)?.orgSlug);
    },
  };
}

/** The parts of a snapshot that decide what an agent may list. */
function listShaping(s: PolicySnapshot): string {
  return JSON.stringify([s.roles, s.servers, s.keys.map((k) => [k.id, k.roleIds]), s.grants.map((g) => [g.id, g.roleIds])]);
}

/** Say loudly how tenant code runs: an operator must never be surprised by an unconfined gateway. */
function announceSandbox(launcher: Launcher, log: Logger): void {
  const { status } = launcher;
  if (status.mode === 'off') log.warn('STDIO SANDBOX OFF: tenant stdio servers run unconfined on this host', { sandbox: status });
  else if (!status.ok) log.error('stdio sandbox unavailable: every stdio server will fail closed', { sandbox: status });
  else log.info('stdio sandbox ready', { sandbox: status });
}

/** The stdio lifecycle goes to the log and, counted by event, to the metrics. */
function stdioLogger(log: Logger, metrics: GatewayMetrics) {
  const count = (fields?: Record<string, unknown>) => {
    if (typeof fields?.event === 'string') metrics.stdioEvents.inc({ event: fields.event });
  };
  return {
    info: (m: string, f?: Record<string, unknown>) => {
      count(f);
      log.info(m, f);
    },
    warn: (m: string, f?: Record<string, unknown>) => {
      count(f);
      log.warn(m, f);
    },
  };
}
