import { parseSecretKey } from '@toolgate/contracts';
import { z } from 'zod';

const int = (def: number) => z.coerce.number().int().nonnegative().default(def);

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
  MAX_BODY_BYTES: int(4 * 1024 * 1024),
  MAX_JSON_DEPTH: int(64),
  MAX_STRING_LENGTH: int(1024 * 1024),
  /** Idle agent sessions expire after this many seconds. */
  SESSION_TTL_SECONDS: int(3600),
  /** Idle backends (stdio children, upstream pools) are closed after this. */
  BACKEND_IDLE_MS: int(10 * 60_000),
  MAX_BACKENDS: int(500),
  /** Default cap for stdio children's memory (RSS), MiB. */
  STDIO_MEMORY_LIMIT_MB: int(1024),
  /** Probes (catalogue reads the API asks for) this worker runs at once. */
  PROBE_CONCURRENCY: z.coerce.number().int().min(1).default(2),
  /** Where events are spooled while Redis is unreachable. */
  SPOOL_DIR: z.string().default('.spool'),
  /** Events are flushed to the queues at least this often (ms) or per this many events. */
  EVENT_FLUSH_MS: int(50),
  EVENT_BATCH_SIZE: int(500),
  /** Redis key prefix for BullMQ (tests isolate with it). */
  QUEUE_PREFIX: z.string().default('bull'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
});
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const parsed = GatewayConfigSchema.safeParse({ ...source, PORT: source.GATEWAY_PORT ?? source.PORT });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`Invalid gateway configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
