import type { AddressInfo } from 'node:net';
import type { PolicySnapshot } from '@toolgate/contracts';
import type { Server } from 'node:http';
import Redis from 'ioredis';
import { type BackendFactories, BackendPool } from './backends/pool';
import { StdioBackend } from './backends/stdio';
import { StreamableHttpBackend } from './backends/http/streamable';
import { SseBackend } from './backends/http/sse';
import { createLauncher, type Launcher } from './backends/sandbox/launcher';
import { edgeRateLimitSettings, edgeSettings, type GatewayConfig, sandboxOptions } from './config';
import { StatusReporter } from './gateway-status';
import { HealthReporter } from './health';
import type { BackendSpec } from './backends/types';
import { createLogger, type Logger } from './log';
import { UpstreamGuard } from './net/upstream-guard';
import { McpCore } from './core/mcp';
import { hotConnection, RedisHealth } from './redis/health';
import { RedisQuota } from './redis/quota';
import { RedisRateLimiter } from './redis/rate-limiter';
import { Relay } from './redis/relay';
import { SessionStore } from './redis/sessions';
import { TaskRemote } from './redis/task-remote';
import { RedisTaskStore } from './redis/task-store';
import { TaskBroker } from './core/tasks';
import { QueueEventSink } from './events/emitter';
import { createHttpServer } from './http/server';
import { SseEventLog } from './http/event-log';
import { McpTransport } from './http/transport';
import { createGatewayMetrics, type GatewayMetrics, setCircuitGauge } from './metrics';
import { Prober } from './probe/prober';
import { SnapshotStore } from './snapshots/store';

export interface Gateway {
  server: Server;
  config: GatewayConfig;
  metrics: GatewayMetrics;
  /** How this worker starts stdio servers (sandbox status included). */
  launcher: Launcher;
  snapshots: SnapshotStore;
  pool: BackendPool;
  events: QueueEventSink;
  listen(): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

/** Wire one gateway worker: Redis, snapshots, sessions, backends, events, HTTP. */
export async function createGateway(config: GatewayConfig): Promise<Gateway> {
  const redis = new Redis(config.REDIS_URL, {
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    enableOfflineQueue: true,
    retryStrategy: (n) => Math.min(n * 100, 2000),
  });
  const sub = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 100, 2000) });
  redis.on('error', () => undefined);
  sub.on('error', () => undefined);
  // Sessions answer every call: their connection never queues and gives up after the command
  // timeout, and its health (shared with rate limits and quota) decides when to serve locally.
  const hot = hotConnection(config.REDIS_URL, config.REDIS_COMMAND_TIMEOUT_MS);
  const redisHealth = new RedisHealth(hot);

  const metrics = createGatewayMetrics();
  const log = createLogger('gateway', config.LOG_LEVEL);
  const launcher = await createLauncher(sandboxOptions(config));
  announceSandbox(launcher, log);
  const stdioLog = stdioLogger(createLogger('stdio', config.LOG_LEVEL), metrics);
  const upstreamGuard = new UpstreamGuard(config.HTTP_UPSTREAM_ALLOW);
  const upstreamLog = (spec: BackendSpec) => (message: string) => log.warn(message, { org: spec.orgId, server: spec.server.slug });
  const snapshots = new SnapshotStore(redis, sub, redisHealth);
  const relay = new Relay(redis, sub);
  // A session changed or deleted on one worker must not live on in another worker's local cache.
  const sessions = new SessionStore(hot, redisHealth, {
    ttlSeconds: config.SESSION_TTL_SECONDS,
    announce: (id) => relay.sessionChanged(id),
    announceTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
  });
  redisHealth.onUp(() => void sessions.writeBack());
  let core: McpCore | null = null;
  relay.onSessionChanged((id) => {
    sessions.forget(id);
    // The session may have ended on another worker: close what it owned here (a notice also
    // means "changed", so ask Redis, but only when this worker holds something of it).
    if (core?.ownsSessionBackends(id)) {
      sessions.get(id).then(
        (s) => {
          if (s === null) core?.endSession(id);
        },
        () => undefined,
      );
    }
  });
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
  const limiter = new RedisRateLimiter({ connection: config.REDIS_URL, health: redisHealth });
  const quota = new RedisQuota({ connection: config.REDIS_URL, timeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, health: redisHealth });
  const events = new QueueEventSink({
    connection: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    flushMs: config.EVENT_FLUSH_MS,
    batchSize: config.EVENT_BATCH_SIZE,
    spoolDir: config.SPOOL_DIR,
    walCommitTimeoutMs: config.WAL_COMMIT_TIMEOUT_MS,
    walFlush: config.EVENT_LOG_FLUSH,
    onError: everySecond((err) => log.warn(`events: ${err.message}`)),
  });

  let transport: McpTransport | null = null;
  // A task lives in the backend of the worker that created it; any worker may serve its agent.
  const taskRemote = new TaskRemote(redis, sub, relay.workerId, (key, instance) => tasks.localBackend(key, instance));
  const tasks: TaskBroker = new TaskBroker({
    // Task records are small and read per task op: bounded like the sessions, never queued.
    store: new RedisTaskStore(hot),
    pool,
    workerId: relay.workerId,
    remote: taskRemote,
    sessionChannel: (sessionId) => transport!.streams.sessionChannel(sessionId),
  });
  core = new McpCore({
    tasks,
    pool,
    limiter,
    edgeLimits: edgeRateLimitSettings(config),
    quota,
    events,
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
    eventLog: new SseEventLog(redis, { maxEvents: config.SSE_REPLAY_EVENTS, ttlMs: config.SSE_REPLAY_TTL_SECONDS * 1000 }),
    requestLog: createLogger('request', config.LOG_LEVEL),
  });

  // A snapshot change (server edited, disabled or removed; secret rotated) retires the
  // backends nobody wants any more.
  snapshots.onChange(() => {
    const wanted = new Set<string>();
    for (const orgId of snapshots.orgIds()) {
      const snap = snapshots.get(orgId);
      if (snap) for (const k of core!.backendKeys(snap)) wanted.add(k);
    }
    pool.retain(wanted);
  });

  // A key revoked, expired or given other roles loses its open streams first, so the
  // list_changed notices below reach only the streams that stay.
  snapshots.onChange((orgId, next) => transport?.streams.snapshotChanged(orgId, next));

  // Roles, servers or a key's roles changed: the org's agents may now see other lists.
  snapshots.onChange((orgId, next, prev) => {
    if (next && prev && listShaping(next) !== listShaping(prev)) transport?.streams.listsChanged(orgId);
  });

  await Promise.all([snapshots.start(), relay.start(), taskRemote.start(), redisHealth.start()]);
  await events.start();
  const status = new StatusReporter(redis, () => launcher.status);
  status.start();
  const health = new HealthReporter({
    workerId: status.workerId,
    redis: redisHealth,
    sub,
    snapshots,
    sessions,
    events,
    limiter,
    sandbox: () => launcher.status,
  });

  const prober = new Prober({
    redisUrl: config.REDIS_URL,
    redis,
    workerId: relay.workerId,
    concurrency: config.PROBE_CONCURRENCY,
    secretKey: config.TOOLGATE_SECRET_KEY,
    factories,
    count: (outcome) => metrics.probes.inc({ outcome }),
    warn: (message) => console.warn(`gateway: ${message}`),
  });
  prober.start();

  const { server, drain } = createHttpServer({
    transport,
    counters: metrics,
    publicUrl: config.PUBLIC_GATEWAY_URL,
    authorizationServer: config.PUBLIC_API_URL,
    edge: edgeSettings(config),
    // From health state, not a PING: a frozen Redis must not hold the load balancer's probe.
    ready: async () => health.ready(),
    health: () => health.report(),
    metrics: async () => {
      metrics.backends.reset();
      for (const s of pool.stats()) metrics.backends.set({ transport: s.transport, health: s.health }, s.count);
      const e = events.stats();
      metrics.eventsBuffered.set(e.buffered + e.sending);
      metrics.spoolEvents.set(e.spooledEvents);
      metrics.spoolBytes.set(e.spoolBytes);
      metrics.snapshots.set(snapshots.size);
      metrics.streams.set(transport?.streams.size ?? 0);
      const open = await sessions.openSessions();
      if (open !== null) metrics.sessions.set(open);
      setCircuitGauge(metrics, pool.circuits(), (orgId) => snapshots.get(orgId)?.orgSlug);
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    },
  });

  let closed = false;
  return {
    server,
    config,
    metrics,
    launcher,
    snapshots,
    pool,
    events,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.PORT, config.HOST, () => {
          const { port } = server.address() as AddressInfo;
          resolve({ port, url: `http://${config.HOST}:${port}` });
        });
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      const grace = config.SHUTDOWN_GRACE_MS;
      const deadline = performance.now() + grace;
      // Calls get the grace period but the last part of it, which goes to handing events over.
      const callsDeadline = deadline - Math.min(2000, grace / 5);
      drain.start();
      await status.stop();
      await Promise.all([drain.settled(callsDeadline), within(transport!.calls.idle(), callsDeadline)]);
      await new Promise((resolve) => setImmediate(resolve)); // the last answers are pushed to their streams
      // Legacy SSE answers have gone out on their streams: now every stream ends, and its agent reconnects elsewhere.
      transport!.streams.endAll();
      drain.closeAll();
      relay.close();
      taskRemote.close();
      await prober.close();
      await pool.closeAll();
      // Every record is in the WAL already: this hand-off to Redis is best effort, the rest is replayed by the next process.
      await events.close(Math.max(500, deadline - performance.now()));
      await quota.close();
      await limiter.close();
      redisHealth.stop();
      redis.disconnect();
      sub.disconnect();
      hot.disconnect();
    },
  };
}

/** Calls `f` at most once a second (errors that repeat per reconnect attempt or per write). */
function everySecond(f: (err: Error) => void): (err: Error) => void {
  let last = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    f(err);
  };
}

/** `p`, or nothing once `deadline` (performance.now()) has passed. */
function within(p: Promise<void>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
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
