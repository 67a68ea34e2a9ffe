import { PrismaPg } from '@prisma/adapter-pg';
import { Prisma, PrismaClient } from './generated/client';

export * from './generated/client';

export type Db = PrismaClient;
/** The client handed to `$transaction(async (tx) => …)` callbacks. */
export type Tx = Prisma.TransactionClient;

export interface DbOptions {
  /** Postgres URL; defaults to DATABASE_URL. */
  url?: string;
  /** Pool size per process. */
  max?: number;
}

/** One factory for the Prisma client: the `pg` driver adapter, no native query engine. */
export function createDb(options: DbOptions = {}): PrismaClient {
  const connectionString = options.url ?? process.env.DATABASE_URL;
  if (!connectionString) throw new Error('DATABASE_URL is not set');
  const adapter = new PrismaPg({ connectionString, max: options.max ?? 10 });
  return new PrismaClient({ adapter });
}

/** Prisma error codes we map to HTTP answers. */
export const PrismaErrorCode = {
  UniqueViolation: 'P2002',
  ForeignKeyViolation: 'P2003',
  NotFound: 'P2025',
} as const;

export function isPrismaError(e: unknown, code?: string): e is Prisma.PrismaClientKnownRequestError {
  return e instanceof Prisma.PrismaClientKnownRequestError && (code === undefined || e.code === code);
}

/** Serialization failures and deadlocks are safe to retry. */
export function isRetriableError(e: unknown): boolean {
  if (e instanceof Prisma.PrismaClientKnownRequestError) return e.code === 'P2034';
  const code = (e as { code?: string } | null)?.code;
  return code === '40001' || code === '40P01';
}
