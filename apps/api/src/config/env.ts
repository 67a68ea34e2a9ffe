import { parseSecretKey } from '@toolgate/contracts';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (def: number) => z.coerce.number().int().nonnegative().default(def);

/** Secrets that must never reach production (copied from docs and examples). */
const KNOWN_INSECURE = new Set(['secret', 'changeme', 'change-me', 'development', 'toolgate']);

export const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: int(4000),
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/toolgate'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** HS256 signing key for access tokens. */
  JWT_SECRET: z
    .string()
    .min(32, 'JWT_SECRET must be at least 32 characters (generate with: openssl rand -hex 32)')
    .refine((v) => !KNOWN_INSECURE.has(v), 'JWT_SECRET is a known insecure value'),
  /** 32-byte hex key sealing org secrets (AES-256-GCM). */
  TOOLGATE_SECRET_KEY: z.string().transform((v, ctx) => {
    try {
      return parseSecretKey(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  }),
  ACCESS_TOKEN_TTL_SECONDS: int(900),
  REFRESH_TOKEN_TTL_DAYS: int(30),
  INVITATION_TTL_HOURS: int(168),
  LOGIN_MAX_FAILURES: int(10),
  LOGIN_WINDOW_SECONDS: int(900),
  BODY_LIMIT_BYTES: int(1_048_576),
  /** Public URLs, used in links and in the snippets the dashboard shows. */
  PUBLIC_API_URL: z.string().url().default('http://127.0.0.1:4000'),
  PUBLIC_GATEWAY_URL: z.string().url().default('http://127.0.0.1:8080'),
  PUBLIC_WEB_URL: z.string().url().default('http://127.0.0.1:3000'),
  /** Comma-separated origins allowed by CORS (the dashboard). */
  CORS_ORIGINS: z.string().default('http://127.0.0.1:3000,http://localhost:3000'),
  /** Probe timeout for MCP servers. */
  PROBE_TIMEOUT_MS: int(20_000),
  /** How often unpublished snapshots are retried. */
  SNAPSHOT_RETRY_MS: int(1000),
  LOG_REQUESTS: bool.default(false),
});
export type Env = z.infer<typeof EnvSchema>;

/** Parse the environment once at boot; refuse to start with a clear list of what is wrong. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Each app has its own port variable so one .env serves them all; PORT works as usual too.
  const parsed = EnvSchema.safeParse({ ...source, PORT: source.API_PORT ?? source.PORT });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export const ENV = Symbol('ENV');
