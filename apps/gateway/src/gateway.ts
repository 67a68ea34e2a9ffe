import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Redis from 'ioredis';
import type { BackendPool } from './backends/pool';
import type { Launcher } from './backends/sandbox/launcher';
import { edgeSettings, type GatewayConfig } from './config';
import { StatusReporter } from './gateway-status';
import { HealthReporter } from './health';
import { createLogger } from './log';
import { hotConnection, RedisHealth } from './redis/health';
import { RedisQuota } from './redis/quota';
import { RedisRateLimiter } from './redis/rate-limiter';
import { Relay } from './redis/relay';
import { redisRelayBus } from './redis/relay-bus';
import { SessionStore } from './redis/sessions';
import { TaskRemote } from './redis/task-remote';
import { RedisTaskStore } from './redis/task-store';
import type { TaskBroker } from './core/tasks';
import { QueueEventSink } from './events/emitter';
import { createHttpServer } from './http/server';
import { SseEventLog } from './http/event-log';
import type { GatewayMetrics } from './metrics';
import { Prober } from './probe/prober';
import { SnapshotStore } from './snapshots/store';
import { createPipeline } from './pipeline';

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

  const snapshots = new SnapshotStore(redis, sub, redisHealth);
  const relay = new Relay(redisRelayBus(redis, sub));
  // A session changed or deleted on one worker must not live on in another worker's local cache.
  const sessions = new SessionStore(hot, redisHealth, {
    ttlSeconds: config.SESSION_TTL_SECONDS,
    announce: (id) => relay.sessionChanged(id),
    announceTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
  });
  redisHealth.onUp(() => void sessions.writeBack());
  const limiter = new RedisRateLimiter({ connection: config.REDIS_URL, health: redisHealth });
  const quota = new RedisQuota({ connection: config.REDIS_URL, timeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, health: redisHealth });
  const log = createLogger('gateway', config.LOG_LEVEL);
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
  // A task lives in the backend of the worker that created it; any worker may serve its agent.
  let tasks: TaskBroker | null = null;
  const taskRemote = new TaskRemote(redis, sub, relay.workerId, (key, instance) => tasks?.localBackend(key, instance) ?? null);
  const pipeline = await createPipeline(config, {
    snapshots,
    sessions,
    relay,
    limiter,
    quota,
    events,
    // Task records are small and read per task op: bounded like the sessions, never queued.
    taskStore: new RedisTaskStore(hot),
    taskRemote,
    eventLog: new SseEventLog(redis, { maxEvents: config.SSE_REPLAY_EVENTS, ttlMs: config.SSE_REPLAY_TTL_SECONDS * 1000 }),
  });
  tasks = pipeline.tasks;
  const { core, transport, pool, factories, launcher, metrics, refreshGauges } = pipeline;
  relay.onSessionChanged((id) => {
    sessions.forget(id);
    // The session may have ended on another worker: close what it owned here (a notice also
    // means "changed", so ask Redis, but only when this worker holds something of it).
    if (core.ownsSessionBackends(id)) {
      sessions.get(id).then(
        (s) => {
          if (s === null) core.endSession(id);
        },
        () => undefined,
      );
    }
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
      refreshGauges();
      const e = events.stats();
      metrics.eventsBuffered.set(e.buffered + e.sending);
      metrics.spoolEvents.set(e.spooledEvents);
      metrics.spoolBytes.set(e.spoolBytes);
      const open = await sessions.openSessions();
      if (open !== null) metrics.sessions.set(open);
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
      await Promise.all([drain.settled(callsDeadline), within(transport.calls.idle(), callsDeadline)]);
      await new Promise((resolve) => setImmediate(resolve)); // the last answers are pushed to their streams
      // Legacy SSE answers have gone out on their streams: now every stream ends, and its agent reconnects elsewhere.
      transport.streams.endAll();
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
