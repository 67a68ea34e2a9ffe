import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { edgeSettings, type GatewayConfig, GatewayConfigSchema } from '@toolgate/gateway/src/config';
import { InMemoryRateLimiter } from '@toolgate/gateway/src/core/ratelimit';
import { createHttpServer } from '@toolgate/gateway/src/http/server';
import type { Logger } from '@toolgate/gateway/src/log';
import { MemoryEventLog } from '@toolgate/gateway/src/memory/event-log';
import { MemoryQuota } from '@toolgate/gateway/src/memory/quota';
import { localRelayBus } from '@toolgate/gateway/src/memory/relay-bus';
import { MemorySessionStore } from '@toolgate/gateway/src/memory/sessions';
import { StaticSnapshots } from '@toolgate/gateway/src/memory/snapshots';
import { MemoryTaskStore } from '@toolgate/gateway/src/memory/task-store';
import { createPipeline, type Pipeline } from '@toolgate/gateway/src/pipeline';
import { Relay } from '@toolgate/gateway/src/redis/relay';
import { ConfigError } from '../config/errors';
import { type LoadedConfig, loadConfig } from '../config/load';
import { AuditFile } from '../events/audit-file';
import { FileEventSink } from '../events/sink';
import { UsageFile } from '../events/usage-file';
import { cliLogger, logWriter } from './logs';
import { ConfigWatcher } from './reload';

export interface StandaloneOptions {
  configFile: string;
  /** The environment: gateway settings (STDIO_SANDBOX, LOG_LEVEL, …) and referenced secrets and keys. */
  env: NodeJS.ProcessEnv;
  jsonLogs: boolean;
  /** Overrides the file's listen.port (tests: 0). */
  port?: number;
  /** Reload on change of the YAML or its secrets file (default on). */
  watch?: boolean;
}

export interface Standalone {
  pipeline: Pipeline;
  snapshots: StaticSnapshots;
  /** The config being served (the last good one). */
  readonly current: LoadedConfig;
  server: Server;
  log: Logger;
  /** Re-read the file now; false (and the last good config kept) when it is invalid. */
  reload(): boolean;
  listen(): Promise<{ port: number; url: string; endpoint: string }>;
  close(): Promise<void>;
}

/**
 * The standalone gateway: the platform's pipeline (createPipeline: same core, policy, backends,
 * sandbox, isolation and transports) on in-process ports. The YAML compiled by @toolgate/policy
 * is the snapshot source, audit goes to a local hash-chained file and usage to a roll-up file,
 * rate limits and quotas are counted in memory. No Postgres, no Redis.
 */
export async function createStandalone(opts: StandaloneOptions): Promise<Standalone> {
  // Secrets are sealed into the snapshot as the platform's are; this key lives as long as the process.
  const secretKey = randomBytes(32);
  let version = 1;
  let current = loadConfig(opts.configFile, { env: opts.env, secretKey, version });
  const { listen } = current.config;
  const port = opts.port ?? listen.port;
  const config: GatewayConfig = GatewayConfigSchema.parse({
    ...opts.env,
    HOST: listen.host,
    PORT: String(port),
    TOOLGATE_SECRET_KEY: secretKey.toString('hex'),
    PUBLIC_GATEWAY_URL: opts.env.PUBLIC_GATEWAY_URL ?? `http://${hostForUrl(listen.host)}:${port}`,
  });
  const log = cliLogger(opts.jsonLogs, config.LOG_LEVEL);

  const snapshots = new StaticSnapshots();
  snapshots.publish(current.snapshot);
  const relay = new Relay(localRelayBus);
  const sessions = new MemorySessionStore(config.SESSION_TTL_SECONDS);
  const limiter = new InMemoryRateLimiter();
  const events = new FileEventSink(
    new AuditFile(current.audit, current.snapshot.orgId, current.snapshot.orgSlug, config.EVENT_LOG_FLUSH),
    new UsageFile(current.usage),
    (err) => log.error(`audit file: ${err.message}`),
  );
  const pipeline = await createPipeline(
    config,
    {
      snapshots,
      sessions,
      relay,
      limiter,
      quota: new MemoryQuota(),
      events,
      taskStore: new MemoryTaskStore(),
      taskRemote: null,
      eventLog: new MemoryEventLog({ maxEvents: config.SSE_REPLAY_EVENTS, ttlMs: config.SSE_REPLAY_TTL_SECONDS * 1000 }),
    },
    logWriter(opts.jsonLogs),
  );
  await relay.start();
  const { metrics, transport, pool, launcher } = pipeline;

  const health = () => ({
    mode: 'standalone',
    config: current.file,
    snapshotVersion: current.snapshot.version,
    servers: current.snapshot.servers.length,
    keys: current.snapshot.keys.length,
    audit: { file: current.audit, accepting: events.accepting },
    sandbox: launcher.status,
  });
  const { server, drain } = createHttpServer({
    transport,
    counters: metrics,
    publicUrl: config.PUBLIC_GATEWAY_URL,
    authorizationServer: config.PUBLIC_API_URL,
    edge: edgeSettings(config),
    ready: async () => ({
      ok: events.accepting && (launcher.status.ok || current.snapshot.servers.every((s) => s.transport !== 'stdio')),
      checks: { snapshot: true, eventLog: events.accepting, sandbox: launcher.status.ok },
    }),
    health,
    metrics: async () => {
      pipeline.refreshGauges();
      const open = await sessions.openSessions();
      if (open !== null) metrics.sessions.set(open);
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    },
  });
  // One org, one endpoint: `/mcp` and `/sse` are the org's `/mcp/{org}` and `/sse/{org}`.
  server.prependListener('request', (req) => {
    const m = /^\/(mcp|sse)\/?(\?.*)?$/.exec(req.url ?? '');
    if (m) req.url = `/${m[1]}/${current.snapshot.orgSlug}${m[2] ?? ''}`;
  });

  const reload = (): boolean => {
    let next: LoadedConfig;
    try {
      next = loadConfig(opts.configFile, { env: opts.env, secretKey, version: version + 1 });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      log.warn(`config: the edit is invalid, still serving version ${current.snapshot.version}\n${e.message}`);
      return false;
    }
    if (next.config.org !== current.config.org) {
      // Sessions, audit chain and endpoint belong to the org: another one is another gateway.
      log.warn(
        `config: org changed from "${current.config.org}" to "${next.config.org}": restart to serve it; still serving version ${current.snapshot.version}`,
      );
      return false;
    }
    version++;
    for (const what of restartOnly(current, next)) log.warn(`config: ${what} changes take effect on restart`);
    if (next.sources.join('\n') !== current.sources.join('\n')) watcher?.set(next.sources);
    current = next;
    snapshots.publish(next.snapshot);
    log.info(`config: reloaded, version ${version}`, {
      servers: next.snapshot.servers.length,
      roles: next.snapshot.roles.length,
      keys: next.snapshot.keys.length,
    });
    return true;
  };
  const watcher = opts.watch === false ? null : new ConfigWatcher(reload);
  watcher?.set(current.sources);

  let closed = false;
  return {
    pipeline,
    snapshots,
    get current() {
      return current;
    },
    server,
    log,
    reload,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, listen.host, () => {
          const { port: bound } = server.address() as AddressInfo;
          const url = `http://${hostForUrl(listen.host)}:${bound}`;
          resolve({ port: bound, url, endpoint: `${url}/mcp` });
        });
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      watcher?.close();
      drain.start();
      await Promise.race([transport.calls.idle(), new Promise((r) => setTimeout(r, config.SHUTDOWN_GRACE_MS).unref())]);
      transport.streams.endAll();
      drain.closeAll();
      relay.close();
      await pool.closeAll();
      await events.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Settings read once at start: a reload that changes them says so instead of silently ignoring them. */
function restartOnly(prev: LoadedConfig, next: LoadedConfig): string[] {
  const out: string[] = [];
  if (JSON.stringify(prev.config.listen) !== JSON.stringify(next.config.listen)) out.push('listen');
  if (prev.audit !== next.audit) out.push('audit.file');
  if (prev.usage !== next.usage) out.push('usage.file');
  return out;
}
