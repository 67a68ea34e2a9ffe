import { parseSecretKey } from '@toolgate/contracts';
import { z } from 'zod';
import { parseTrustedProxies } from './http/client-ip';
import { parseCidrs } from './net/cidr';
import type { SandboxOptions } from './backends/sandbox/options';

const int = (def: number) => z.coerce.number().int().nonnegative().default(def);
const list = () =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    );
/** A comma-separated list parsed (and validated) by `parse`, whose error message becomes the config error. */
const parsedList = <T>(parse: (items: string[]) => T) =>
  list().transform((v, ctx) => {
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

export const GatewayConfigSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: int(8080),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  TOOLGATE_SECRET_KEY: z.string().transform((v, ctx) => {
    try {
      return parseSecretKey(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  }),
  /** The control plane, named as authorization server in the protected-resource metadata. */
  PUBLIC_API_URL: z.string().url().default('http://127.0.0.1:4000'),
  /** This gateway's public base URL (resource identifiers). */
  PUBLIC_GATEWAY_URL: z.string().url().default('http://127.0.0.1:8080'),
  /**
   * Extra allowed browser origins (comma-separated). Always allowed: PUBLIC_GATEWAY_URL's origin,
   * and loopback origins on loopback connections (DNS-rebinding protection).
   */
  ALLOWED_ORIGINS: z.string().default(''),
  /**
   * Reverse proxies whose forwarding headers are believed (comma-separated addresses or CIDRs):
   * the client address for IP allow-lists and audit is then the rightmost X-Forwarded-For /
   * Forwarded hop that is not one of them. Unset: the socket address, headers ignored.
   */
  TRUSTED_PROXIES: parsedList(parseTrustedProxies),
  /** Audit records of failed authentications per org and client address per minute; the rest are counted into the next. */
  AUTH_FAILURE_AUDIT_PER_MINUTE: int(10),
  /** Events kept per SSE stream for Last-Event-ID resumption (older ones are dropped). */
  SSE_REPLAY_EVENTS: z.coerce.number().int().min(1).default(100),
  /** A stream's kept events expire this long after its last event. */
  SSE_REPLAY_TTL_SECONDS: z.coerce.number().int().min(1).default(300),
  MAX_BODY_BYTES: int(4 * 1024 * 1024),
  MAX_JSON_DEPTH: int(64),
  MAX_STRING_LENGTH: int(1024 * 1024),
  /**
   * The longest the hot path (sessions, quota) waits on Redis per command; past it Redis counts as
   * away (frozen) and calls are served from local state until a probe sees it answer again.
   */
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(10).max(5000).default(150),
  /** Idle agent sessions expire after this many seconds. */
  SESSION_TTL_SECONDS: int(3600),
  /** Idle backends (stdio children, upstream pools) are closed after this. */
  BACKEND_IDLE_MS: int(10 * 60_000),
  MAX_BACKENDS: int(500),
  /** Default cap for stdio children's memory (RSS of the tree; also each process's data segment), MiB. */
  STDIO_MEMORY_LIMIT_MB: int(1024),
  /**
   * `bwrap` confines every stdio server (backends/sandbox/README.md); `off` runs tenant code
   * unconfined and is only for single-team self-hosting: logged loudly and reported everywhere.
   */
  STDIO_SANDBOX: z.enum(['bwrap', 'off']).default('bwrap'),
  /** Extra host paths servers may read (comma-separated absolute paths of vetted servers' code). */
  STDIO_SANDBOX_PATHS: list().refine((ps) => ps.every((p) => p.startsWith('/')), 'must be absolute paths'),
  /** Host directory for per-org npm/uv caches (one writable folder per org); unset = caches live in the server's private home. */
  STDIO_CACHE_DIR: z.string().optional(),
  /** Size cap of a server's private home, /tmp and /dev/shm (each), MiB. */
  STDIO_SCRATCH_MB: int(256),
  STDIO_MAX_PROCESSES: int(128),
  STDIO_MAX_OPEN_FILES: int(1024),
  STDIO_MAX_FILE_MB: int(256),
  /** CPU seconds a server may use before it is stopped (and restarted on the next call). */
  STDIO_CPU_SECONDS: int(3600),
  /** First host uid of the range sandboxes run under (one uid per running server; root gateways only). */
  STDIO_SANDBOX_UID_FIRST: int(200_000),
  STDIO_SANDBOX_UID_COUNT: int(65_536),
  /**
   * Private, loopback or link-local ranges HTTP/SSE upstreams may live in (comma-separated CIDRs,
   * IPv4 or IPv6). Empty: tenants' upstream URLs can reach only public addresses.
   */
  HTTP_UPSTREAM_ALLOW: parsedList((v) => parseCidrs(v, { ipv6: true })),
  /** Private IPv4 ranges `egress` servers may reach anyway (comma-separated CIDRs). */
  STDIO_EGRESS_ALLOW: parsedList((v) => parseCidrs(v)),
  /** Probes (catalogue reads the API asks for) this worker runs at once. */
  PROBE_CONCURRENCY: z.coerce.number().int().min(1).default(2),
  /** Where events are spooled while Redis is unreachable. */
  SPOOL_DIR: z.string().default('.spool'),
  /** Events are flushed to the queues at least this often (ms) or per this many events. */
  EVENT_FLUSH_MS: int(50),
  EVENT_BATCH_SIZE: int(500),
  /** Redis key prefix for BullMQ (tests isolate with it). */
  QUEUE_PREFIX: z.string().default('bull'),
  /** The operator log's threshold (JSON lines on stderr). */
  LOG_LEVEL: z.enum(['info', 'warn', 'error']).default('info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
});
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export function sandboxOptions(config: GatewayConfig): SandboxOptions {
  return {
    mode: config.STDIO_SANDBOX,
    readOnlyPaths: config.STDIO_SANDBOX_PATHS,
    cacheDir: config.STDIO_CACHE_DIR ?? null,
    scratchMb: config.STDIO_SCRATCH_MB,
    limits: {
      memoryMb: config.STDIO_MEMORY_LIMIT_MB,
      processes: config.STDIO_MAX_PROCESSES,
      openFiles: config.STDIO_MAX_OPEN_FILES,
      fileSizeMb: config.STDIO_MAX_FILE_MB,
      cpuSeconds: config.STDIO_CPU_SECONDS,
    },
    uidRange: { first: config.STDIO_SANDBOX_UID_FIRST, count: config.STDIO_SANDBOX_UID_COUNT },
    egressAllow: config.STDIO_EGRESS_ALLOW,
  };
}

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const parsed = GatewayConfigSchema.safeParse({ ...source, PORT: source.GATEWAY_PORT ?? source.PORT });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`Invalid gateway configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
