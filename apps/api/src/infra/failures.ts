import { Prisma } from '@toolgate/db';
import Stripe from 'stripe';

/**
 * The one rule that splits failures in two:
 *
 * - `connection`: a dependency (Postgres, Stripe, Redis) is unreachable, overloaded, timing out
 *   or unusable as configured (database missing, credentials refused). Every event would fail
 *   the same way, so it is no event's fault: consumers stop taking work and wait for the
 *   dependency, and no retry budget is spent.
 * - `fault`: the dependency answered and refused this piece of work (a poison event, a constraint
 *   the data violates, a 4xx from Stripe). Only these count as attempts.
 */
type FailureClass = 'connection' | 'fault';

/**
 * Prisma: authentication failed, can't reach / timed out reaching the server, database missing,
 * operation timed out, server closed the connection, pool timeout.
 */
const PRISMA_CONNECTION_CODES = new Set(['P1000', 'P1001', 'P1002', 'P1003', 'P1008', 'P1017', 'P2024']);
/** What the pg driver adapter reports (`meta.driverAdapterError.cause.kind`) when the connection is the problem. */
const ADAPTER_CONNECTION_KINDS = new Set([
  'DatabaseNotReachable',
  'DatabaseDoesNotExist',
  'DatabaseAccessDenied',
  'AuthenticationFailed',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TlsConnectionError',
]);
/** Node socket errors (pg, ioredis, undici). */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);
/**
 * Postgres SQLSTATEs: admin/crash shutdown, cannot connect now, too many connections, no such
 * database, authorization refused (plus class 08, connection exception).
 */
const PG_CONNECTION_STATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000', '28000', '28P01']);
/** Messages of drivers that give no code: pg's dropped connection, ioredis's closed connection, pool timeouts. */
const CONNECTION_MESSAGE =
  /connection terminated|connection is closed|server closed the connection|timeout exceeded when trying to connect|can't reach database server|max retries per request/i;

export function classifyFailure(e: unknown): FailureClass {
  return chainOf(e).some(isConnectionClass) ? 'connection' : 'fault';
}

export const isConnectionFailure = (e: unknown): boolean => classifyFailure(e) === 'connection';

function isConnectionClass(e: object): boolean {
  if (e instanceof Stripe.errors.StripeError) {
    // Unreachable, timed out, rate limited, or Stripe's own 5xx: the request itself was fine.
    if (e instanceof Stripe.errors.StripeConnectionError || e instanceof Stripe.errors.StripeRateLimitError) return true;
    const status = e.statusCode ?? 0;
    return status === 429 || status >= 500;
  }
  const { code, kind, name, message } = e as { code?: unknown; kind?: unknown; name?: unknown; message?: unknown };
  if (e instanceof Prisma.PrismaClientKnownRequestError && PRISMA_CONNECTION_CODES.has(e.code)) return true;
  if (e instanceof Prisma.PrismaClientInitializationError) return true;
  if (typeof kind === 'string' && ADAPTER_CONNECTION_KINDS.has(kind)) return true;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || PG_CONNECTION_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (name === 'MaxRetriesPerRequestError') return true;
  return typeof message === 'string' && CONNECTION_MESSAGE.test(message);
}

/**
 * The error and what it wraps: `cause`, an AggregateError's `errors` (Node's dual-stack connect
 * failure, whose own message is empty) and Prisma's `meta.driverAdapterError.cause`.
 */
function chainOf(e: unknown, depth = 0): object[] {
  if (e === null || typeof e !== 'object' || depth > 4) return [];
  const o = e as { cause?: unknown; errors?: unknown; meta?: { driverAdapterError?: { cause?: unknown } } };
  const inner = [o.cause, o.meta?.driverAdapterError?.cause, ...(Array.isArray(o.errors) ? o.errors : [])];
  return [e, ...inner.flatMap((i) => chainOf(i, depth + 1))];
}

/**
 * A one-line reason for logs and dead letters, never empty: the error's class, its code, and
 * the first non-empty message along its chain (Prisma's multi-line messages keep their last line).
 */
export function describeFailure(e: unknown): string {
  if (!(e instanceof Error)) return `${typeof e}: ${String(e) || '(no message)'}`;
  const code = (e as { code?: unknown }).code;
  const label = typeof code === 'string' || typeof code === 'number' ? `${e.name} ${code}` : e.name;
  const message = chainOf(e)
    .map((x) => lastLine((x as { message?: unknown }).message))
    .find((m) => m.length > 0);
  return `${label}: ${message ?? '(no message)'}`;
}

function lastLine(m: unknown): string {
  if (typeof m !== 'string') return '';
  const lines = m.split('\n').map((l) => l.trim());
  return lines.filter(Boolean).at(-1) ?? '';
}
