import { parseSecretKey } from '@toolgate/contracts';
import type { EdgeRateLimits } from '@toolgate/policy';
import { z } from 'zod';
import { ClientIpResolver, parseTrustedProxies } from './http/client-ip';
import type { ConnectionCapsOptions } from './http/connection-caps';
import type { EdgeOptions } from './http/edge';
import { normalizeOrigins } from './http/util';
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
  /**
   * The control plane, named as authorization server in the protected-resource metadata: the
   * issuer exactly as the API states it (no trailing slash), or clients refuse the mismatch.
   */
  PUBLIC_API_URL: z
    .string()
    .url()
    .default('http://127.0.0.1:4000')
    .transform((v) => v.replace(/\/+$/, '')),
  /** This gateway's public base URL (resource identifiers). */
  PUBLIC_GATEWAY_URL: z.string().url().default('http://127.0.0.1:8080'),
  /**
   * Browser origins (comma-separated) that may call the gateway: they pass the Origin check
   * (DNS-rebinding protection) and get CORS headers. Also passing the Origin check, without CORS:
   * PUBLIC_GATEWAY_URL's origin, and loopback origins on loopback connections.
   */
  ALLOWED_ORIGINS: z.string().default(''),
  /**
   * Reverse proxies whose forwarding headers are believed (comma-separated addresses or CIDRs):
   * the client address for IP allow-lists and audit is then the rightmost X-Forwarded-For /
   * Forwarded hop that is not one of them. Unset: the socket address, headers ignored.
   */
  TRUSTED_PROXIES: parsedList(parseTrustedProxies),
  /**
   * Strict-Transport-Security: `auto` sends it on requests that arrived over TLS, directly or (from
   * a TRUSTED_PROXIES peer) with `X-Forwarded-Proto: https`; `on` always; `off` never.
   */
  HSTS: z.enum(['auto', 'on', 'off']).default('auto'),
  HSTS_MAX_AGE_SECONDS: int(31_536_000),
  /**
   * RFC 9116 `/.well-known/security.txt` Contact URIs (comma-separated; a bare address becomes
   * `mailto:`). Unset: the file answers 404 (an invented contact would be worse than none).
   */
  SECURITY_CONTACT: list(),
  /** Its Expires (ISO 8601). Unset: 90 days after each response, so it never goes stale while served. */
  SECURITY_TXT_EXPIRES: z.preprocess((v) => (v === '' ? undefined : v), z.string().datetime({ offset: true }).optional()),
  /** Connections this worker holds at once; past it a new one gets 503 and is closed (0 = no cap). */
  GATEWAY_MAX_CONNECTIONS: int(10_000),
  /**
   * Connections one socket address holds at once; past it 429 and closed (0 = no cap). Peers in
   * TRUSTED_PROXIES are exempt (they carry many clients): GATEWAY_IP_CALLS_PER_MINUTE limits those.
   */
  GATEWAY_MAX_CONNECTIONS_PER_IP: int(256),
  /**
   * Calls (tools/call, prompts/get, resources/*) per org per minute across all workers, beside the
   * roles' per-key and per-tool limits: a noisy-neighbour guard sized to the fleet (0 = off).
   */
  GATEWAY_ORG_CALLS_PER_MINUTE: int(0),
  /** Bucket size of the per-org limit (0 = the per-minute value). */
  GATEWAY_ORG_CALLS_BURST: int(0),
  /** Calls per client address (as TRUSTED_PROXIES resolves it) per minute, over every org (0 = off). */
  GATEWAY_IP_CALLS_PER_MINUTE: int(0),
  GATEWAY_IP_CALLS_BURST: int(0),
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
  /** The write-ahead log of every call's events, and the spool for events Redis could not take (local disk). */
  SPOOL_DIR: z.string().default('.spool'),
  /**
   * A call's record not on disk within this long: the call's answer becomes a -32008 error, and
   * calls are refused until the disk answers. Generous: on a shared disk an fdatasync can stall
   * for seconds (ext4 commits other files' data with it), and waiting beats failing calls.
   */
  WAL_COMMIT_TIMEOUT_MS: z.coerce.number().int().min(1).default(10_000),
  /**
   * When a call's record counts as written before its answer leaves: `disk` (on the device: survives
   * a power cut of the host) or `os` (in the kernel: survives any crash of the gateway process, not
   * of the host; the answer no longer waits for a device flush).
   */
  EVENT_LOG_FLUSH: z.enum(['disk', 'os']).default('disk'),
  /** On SIGTERM, calls in flight get this long to finish (new ones are refused, /readyz says 503); then streams end and the worker exits. */
  SHUTDOWN_GRACE_MS: int(10_000),
  /**
   * Events are flushed to the queues at least this often (ms) or per this many events. They are
   * on disk (the WAL) before any answer, so this is only how soon Postgres sees them; each flush
   * costs the workers ~15 ms of CPU whatever its size (bench/README.md, 2026-12-08).
   */
  EVENT_FLUSH_MS: int(250),
  EVENT_BATCH_SIZE: int(500),
  /** Redis key prefix for BullMQ (tests isolate with it). */
  QUEUE_PREFIX: z.string().default('bull'),
  /** The operator log's threshold (JSON lines on stderr). */
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
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

/** The configured browser origins (ALLOWED_ORIGINS), normalised: the Origin check and CORS share them. */
function browserOrigins(config: GatewayConfig): Set<string> {
  return normalizeOrigins(
    config.ALLOWED_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  );
}

/** The operator's per-org and per-client-address call limits. */
export function edgeRateLimitSettings(config: GatewayConfig): EdgeRateLimits {
  return {
    orgPerMinute: config.GATEWAY_ORG_CALLS_PER_MINUTE,
    orgBurst: config.GATEWAY_ORG_CALLS_BURST,
    ipPerMinute: config.GATEWAY_IP_CALLS_PER_MINUTE,
    ipBurst: config.GATEWAY_IP_CALLS_BURST,
  };
}

/** What the HTTP front needs for headers, CORS, security.txt and connection caps. */
export function edgeSettings(config: GatewayConfig): { edge: EdgeOptions; caps: ConnectionCapsOptions } {
  const clientIp = new ClientIpResolver(config.TRUSTED_PROXIES);
  return {
    edge: {
      corsOrigins: browserOrigins(config),
      hsts: config.HSTS,
      hstsMaxAgeSeconds: config.HSTS_MAX_AGE_SECONDS,
      clientIp,
      securityContact: config.SECURITY_CONTACT,
      securityTxtExpires: config.SECURITY_TXT_EXPIRES,
      publicUrl: config.PUBLIC_GATEWAY_URL.replace(/\/+$/, ''),
    },
    caps: {
      max: config.GATEWAY_MAX_CONNECTIONS,
      perIp: config.GATEWAY_MAX_CONNECTIONS_PER_IP,
      exempt: (address) => clientIp.peerTrusted(address),
    },
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
