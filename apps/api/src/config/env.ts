import { parseSecretKey } from '@toolgate/contracts';
import { DEFAULT_STDIO_COMMANDS, launcherEntryProblem } from '@toolgate/policy';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (def: number) => z.coerce.number().int().nonnegative().default(def);
/** Unset and empty (`KEY=` in a .env file) both mean "not configured". */
const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(unsetIfEmpty, z.string().optional());

/**
 * A comma-separated list of stdio launchers. Empty means none at all (HTTP servers only): an
 * operator who blanks the list must not get the defaults back.
 */
const commandList = z
  .string()
  .default(DEFAULT_STDIO_COMMANDS.join(','))
  .transform((v, ctx) => {
    const entries = [...new Set(v.split(',').map((s) => s.trim()))].filter(Boolean);
    for (const entry of entries) {
      const problem = launcherEntryProblem(entry);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }
    return entries;
  });

/** Secrets that must never reach production (copied from docs and examples). */
const KNOWN_INSECURE = new Set(['secret', 'changeme', 'change-me', 'development', 'toolgate']);

/** A Stripe key without a price or a webhook secret would half work: refuse it at boot. */
function requireCompleteStripe(
  env: { STRIPE_SECRET_KEY?: string; STRIPE_PRICE_ID?: string; STRIPE_WEBHOOK_SECRET?: string },
  ctx: z.RefinementCtx,
) {
  if (!env.STRIPE_SECRET_KEY) return;
  for (const k of ['STRIPE_PRICE_ID', 'STRIPE_WEBHOOK_SECRET'] as const) {
    if (!env[k]) ctx.addIssue({ code: 'custom', path: [k], message: 'required when STRIPE_SECRET_KEY is set' });
  }
}

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
  /** Launchers tenants may register as stdio commands (see @toolgate/policy commandAllowed). */
  STDIO_ALLOWED_COMMANDS: commandList,
  /** How long a server probe may take, from the request to the gateway worker's answer (ms). */
  PROBE_TIMEOUT_MS: int(20_000),
  /** A probe no gateway worker has taken within this long answers 503 probe_unavailable (ms). */
  PROBE_PICKUP_TIMEOUT_MS: int(5000),
  /** How often unpublished snapshots are retried. */
  SNAPSHOT_RETRY_MS: int(1000),
  /**
   * How often the API looks at Redis's snapshot epoch (also on every reconnect). Missing or
   * changed: Redis lost its data, and every snapshot and tombstone is republished at once.
   */
  SNAPSHOT_EPOCH_CHECK_MS: z.coerce.number().int().min(50).default(1000),
  /** How often one batch of orgs (and one of tombstones) is compared with Redis and repaired. */
  SNAPSHOT_RECONCILE_MS: z.coerce.number().int().min(50).default(10_000),
  /** Orgs (and tombstones) compared per reconcile batch. */
  SNAPSHOT_RECONCILE_BATCH: z.coerce.number().int().min(1).max(5000).default(200),
  LOG_REQUESTS: bool.default(false),
  /** Access log (one JSON line per HTTP request and per worker job, at info) and anything below it is dropped under this level. */
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),

  // ---- The edge: security headers, security.txt, throttling (0 = off) ----
  /**
   * Strict-Transport-Security: `auto` sends it on requests that arrived over TLS, directly or from
   * a loopback proxy saying `X-Forwarded-Proto: https` (Express `trust proxy`); `on` always; `off` never.
   */
  HSTS: z.enum(['auto', 'on', 'off']).default('auto'),
  HSTS_MAX_AGE_SECONDS: int(31_536_000),
  /** RFC 9116 security.txt Contact URIs (comma-separated; bare addresses become mailto:). Unset: 404. */
  SECURITY_CONTACT: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  /** security.txt Expires (ISO 8601); unset: 90 days after each response. */
  SECURITY_TXT_EXPIRES: z.preprocess(unsetIfEmpty, z.string().datetime({ offset: true }).optional()),
  /** Sign-ups per client IP per hour. */
  SIGNUP_PER_IP_PER_HOUR: int(20),
  /** Logins per client IP per minute (failed logins also lock out per email + IP). */
  AUTH_PER_IP_PER_MINUTE: int(60),
  /** Management writes (POST, PUT, PATCH, DELETE by a signed-in user) per user per minute. */
  MANAGE_WRITES_PER_USER_PER_MINUTE: int(300),
  /** OAuth dynamic client registrations (POST /register) per client IP per hour. */
  OAUTH_REGISTER_PER_IP_PER_HOUR: int(20),

  // ---- OAuth 2.1 authorization server for agents (modules/oauth) ----
  /** Lifetime of an authorization code (single use). */
  OAUTH_CODE_TTL_SECONDS: z.coerce.number().int().min(1).default(60),
  /** Lifetime of a consent request: /authorize until the person approves or denies in the dashboard. */
  OAUTH_REQUEST_TTL_SECONDS: z.coerce.number().int().min(10).default(600),
  /** Lifetime of an OAuth refresh token (each refresh rotates it and starts a new one). */
  OAUTH_REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).default(30),
  /**
   * Hosts whose client ID metadata documents may be fetched over plain http and from private or
   * loopback addresses (comma-separated host names or IP literals, matched against the URL's
   * host). Empty in production; tests list 127.0.0.1 for their local fixture server.
   */
  OAUTH_CLIENT_METADATA_ALLOW_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((x) =>
          x
            .trim()
            .toLowerCase()
            .replace(/^\[|\]$/g, ''),
        )
        .filter(Boolean),
    ),
  /** BullMQ key prefix of the event queues; must match the gateway's QUEUE_PREFIX. */
  QUEUE_PREFIX: z.string().min(1).default('bull'),
  /**
   * Bearer token of the operator routes (`/v1/ops/...`: cross-tenant actions such as re-driving
   * dead letters). Generate with `openssl rand -hex 32`. Unset: those routes answer 404.
   */
  OPERATOR_TOKEN: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .min(32, 'OPERATOR_TOKEN must be at least 32 characters (generate with: openssl rand -hex 32)')
      .refine((v) => !KNOWN_INSECURE.has(v), 'OPERATOR_TOKEN is a known insecure value')
      .optional(),
  ),

  // ---- Event consumers (worker): outages and dead letters ----
  /** While the database (or Stripe) is unreachable, consumers pause and probe it: first after this long, doubling. */
  OUTAGE_PROBE_BASE_MS: z.coerce.number().int().min(10).default(500),
  /** The longest wait between two probes of an unreachable dependency. */
  OUTAGE_PROBE_MAX_MS: z.coerce.number().int().min(10).default(15_000),
  /** How often the worker looks for dead letters due for an automatic re-drive (0 = never). */
  DEAD_LETTER_REDRIVE_INTERVAL_MS: int(60_000),
  /** A letter is re-driven this long after it was parked, doubling with each re-drive (capped at 6 h). */
  DEAD_LETTER_REDRIVE_BASE_MS: z.coerce.number().int().min(10).default(300_000),
  /** Automatic re-drives per letter; after that only an operator re-drives it. */
  DEAD_LETTER_REDRIVE_MAX: int(6),

  // ---- Usage roll-ups and quotas (worker) ----
  /** Usage event ids are remembered this many days, so a redelivery within the window never counts twice. */
  USAGE_DEDUPE_DAYS: z.coerce.number().int().min(1).default(7),
  /** How often remembered usage event ids older than the window are pruned. */
  USAGE_PRUNE_INTERVAL_MS: int(3_600_000),
  /** Usage events rolled up per database transaction (whole jobs are taken until it is reached). */
  USAGE_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  /** A partial batch is written once it has waited this long for more events. */
  USAGE_BATCH_WAIT_MS: int(50),
  /** BullMQ job lock: jobs held by a worker that died are taken over after about this long (see stalledIntervalOf). */
  USAGE_LOCK_MS: z.coerce.number().int().min(1000).default(5000),
  /** Quota alert webhooks: request timeout, first retry delay (doubling) and attempts before giving up. */
  QUOTA_ALERT_TIMEOUT_MS: int(5000),
  QUOTA_ALERT_RETRY_MS: int(30_000),
  QUOTA_ALERT_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(8),

  // ---- Billing (Stripe, or the local ledger when STRIPE_SECRET_KEY is unset) ----
  STRIPE_SECRET_KEY: optionalString,
  /** Signing secret of the webhook endpoint (`whsec_…`); required with STRIPE_SECRET_KEY. */
  STRIPE_WEBHOOK_SECRET: optionalString,
  /** The metered price every subscription gets; required with STRIPE_SECRET_KEY. */
  STRIPE_PRICE_ID: optionalString,
  /** `event_name` of the Stripe billing meter the price is attached to. */
  STRIPE_METER_EVENT_NAME: z.string().min(1).max(100).default('toolgate_calls'),
  /** Where the Stripe API is (tests point these at a local fake); Stripe's defaults when unset. */
  STRIPE_API_HOST: optionalString,
  /** The worker's own /healthz and /readyz (container probes); unset: the worker serves no HTTP. */
  WORKER_HEALTH_PORT: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(1).max(65535).optional()),
  STRIPE_API_PORT: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(1).max(65535).optional()),
  STRIPE_API_PROTOCOL: z.preprocess(unsetIfEmpty, z.enum(['http', 'https']).optional()),
  STRIPE_TIMEOUT_MS: z.coerce.number().int().min(100).default(20_000),
  /** Retries the Stripe SDK makes itself (same idempotency key) before an attempt counts as failed. */
  STRIPE_MAX_NETWORK_RETRIES: int(2),
  /** Price per 1,000 billable calls (cents) for the local estimate; an org's BillingAccount may override it. */
  BILLING_ESTIMATE_CENTS_PER_1K: int(50),
  /** Currency of the local estimate (ISO 4217, lower case as Stripe writes it). */
  BILLING_CURRENCY: z
    .string()
    .regex(/^[a-z]{3}$/, 'must be a lower-case ISO 4217 code, e.g. usd')
    .default('usd'),
  /** How often the worker reports closed hours to Stripe and retries failed reports. */
  METER_REPORT_INTERVAL_MS: z.coerce.number().int().min(100).default(60_000),
  /** An hour is reported this long after it ends, so late events (spooled at a gateway) still count. */
  METER_GRACE_MS: int(600_000),
  /** First retry delay of a failed meter report (doubling, capped at one hour). */
  METER_RETRY_BASE_MS: z.coerce.number().int().min(10).default(10_000),
  METER_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(12),

  // ---- Audit chain (worker: tg-audit consumer, activity mirror, retention, SIEM webhooks) ----
  /** Audit events appended per batch (one transaction per org per batch). */
  AUDIT_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  /** A partial batch is written once it has waited this long for more events. */
  AUDIT_BATCH_WAIT_MS: int(50),
  /** BullMQ job lock: jobs held by a worker that died are taken over after about this long (see stalledIntervalOf). */
  AUDIT_LOCK_MS: z.coerce.number().int().min(1000).default(5000),
  /** Events older than this many days (by receipt) are pruned behind a signed checkpoint; unset keeps them forever. */
  AUDIT_RETENTION_DAYS: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(1).optional()),
  /** How often retention pruning runs (0 = never on a timer). */
  AUDIT_RETENTION_INTERVAL_MS: int(3_600_000),
  /** HMAC key of retention checkpoints; when unset it is derived from TOOLGATE_SECRET_KEY (HKDF-SHA256). */
  AUDIT_SIGNING_KEY: z.preprocess(unsetIfEmpty, z.string().min(32, 'AUDIT_SIGNING_KEY must be at least 32 characters').optional()),
  /** How often new ActivityLog rows (admin actions) are mirrored into the chain (0 = never on a timer). */
  AUDIT_ACTIVITY_INTERVAL_MS: int(5000),
  /**
   * Activity rows are mirrored once they are this old, so a transaction that wrote one and
   * commits late (the API's longest runs 15 s) can never be passed over by the cursor.
   */
  AUDIT_ACTIVITY_SETTLE_MS: int(30_000),
  /** SIEM webhooks: how often due deliveries are sent (0 = never on a timer), events per delivery, request timeout. */
  AUDIT_WEBHOOK_INTERVAL_MS: int(2000),
  AUDIT_WEBHOOK_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  AUDIT_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** First retry delay of a failed delivery (doubling per attempt, capped at AUDIT_WEBHOOK_MAX_BACKOFF_MS; retried until it succeeds). */
  AUDIT_WEBHOOK_RETRY_MS: z.coerce.number().int().min(10).default(5000),
  AUDIT_WEBHOOK_MAX_BACKOFF_MS: z.coerce.number().int().min(10).default(3_600_000),
});
export type Env = z.infer<typeof EnvSchema>;

/** Parse the environment once at boot; refuse to start with a clear list of what is wrong. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Each app has its own port variable so one .env serves them all; PORT works as usual too.
  const parsed = EnvSchema.superRefine(requireCompleteStripe).safeParse({ ...source, PORT: source.API_PORT ?? source.PORT });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export const ENV = Symbol('ENV');
