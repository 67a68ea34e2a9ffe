import { createDb, Prisma } from '@toolgate/db';
import Stripe from 'stripe';
import { classifyFailure, describeFailure } from './failures';
import { freePort } from '../../test/private-redis';

/** The error a real Prisma call throws. */
async function prismaError(url: string, call: (db: ReturnType<typeof createDb>) => Promise<unknown>): Promise<unknown> {
  const db = createDb({ url });
  try {
    await call(db);
    throw new Error('expected the call to fail');
  } catch (e) {
    return e;
  } finally {
    await db.$disconnect().catch(() => undefined);
  }
}

describe('classifyFailure', () => {
  it('a database nobody listens on is connection-class, through raw queries, models and transactions', async () => {
    const url = `postgresql://postgres@127.0.0.1:${await freePort()}/toolgate`;
    for (const call of [
      (db: ReturnType<typeof createDb>) => db.$queryRaw`SELECT 1`,
      (db: ReturnType<typeof createDb>) => db.organization.findFirst(),
      (db: ReturnType<typeof createDb>) => db.$transaction(async (tx) => tx.organization.findFirst()),
    ]) {
      const e = await prismaError(url, call);
      expect(classifyFailure(e)).toBe('connection');
      expect(describeFailure(e)).toMatch(/^PrismaClientKnownRequestError P\d{4}: .*reach database server/);
    }
  });

  it('a database that does not exist is connection-class too (no event is at fault)', async () => {
    const url = process.env.DATABASE_URL!.replace(/\/[^/]+$/, '/tg_no_such_database');
    expect(classifyFailure(await prismaError(url, (db) => db.organization.findFirst()))).toBe('connection');
  });

  it('what the database refuses about the data is the event’s fault', async () => {
    const e = await prismaError(process.env.DATABASE_URL!, (db) => db.$executeRawUnsafe(`SELECT 1/0`));
    expect(classifyFailure(e)).toBe('fault');
    expect(describeFailure(e)).toMatch(/division by zero/);
    const unique = new Prisma.PrismaClientKnownRequestError('Unique constraint failed', { code: 'P2002', clientVersion: 'x' });
    expect(classifyFailure(unique)).toBe('fault');
  });

  it('Stripe: unreachable, 429 and 5xx are connection-class; 4xx refusals and conflicts are faults', () => {
    expect(classifyFailure(new Stripe.errors.StripeConnectionError({ message: 'connect ECONNREFUSED' }))).toBe('connection');
    expect(classifyFailure(new Stripe.errors.StripeAPIError({ message: 'boom', statusCode: 503 }))).toBe('connection');
    expect(classifyFailure(new Stripe.errors.StripeRateLimitError({ message: 'slow down', statusCode: 429 }))).toBe('connection');
    expect(classifyFailure(new Stripe.errors.StripeInvalidRequestError({ message: 'No such customer', statusCode: 400 }))).toBe('fault');
    expect(classifyFailure(new Stripe.errors.StripeIdempotencyError({ message: 'in flight', statusCode: 409 }))).toBe('fault');
  });

  it('socket errors, also wrapped in an AggregateError with an empty message (Node’s dual-stack connect)', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const aggregate = new AggregateError([refused], '');
    expect(classifyFailure(aggregate)).toBe('connection');
    expect(classifyFailure(new Error('Connection terminated unexpectedly'))).toBe('connection');
    expect(classifyFailure(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(
      'connection',
    );
    expect(classifyFailure(new Error('invalid input syntax for type uuid'))).toBe('fault');
  });
});

describe('describeFailure', () => {
  it('is never empty: class, code and the first message found along the chain', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(describeFailure(new AggregateError([refused], ''))).toBe('AggregateError: connect ECONNREFUSED 127.0.0.1:5432');
    expect(describeFailure(new Error(''))).toBe('Error: (no message)');
    expect(describeFailure(new TypeError('x is not a function'))).toBe('TypeError: x is not a function');
    expect(describeFailure(refused)).toBe('Error ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432');
    expect(describeFailure('plain')).toBe('string: plain');
    expect(describeFailure(undefined)).toBe('undefined: undefined');
  });
});
