import { QueueName } from '@toolgate/contracts';
import { type DeadLetter, redriveIsSafe } from './dead-letter';
import { dueForRedrive } from './dead-letter.redriver';

describe('dueForRedrive', () => {
  const env = { DEAD_LETTER_REDRIVE_BASE_MS: 60_000, DEAD_LETTER_REDRIVE_MAX: 3 };
  const parked = Date.parse('2026-12-07T00:00:00Z');
  const letter = (over: Partial<DeadLetter> = {}): DeadLetter => ({
    queue: QueueName.Usage,
    jobId: 'j',
    data: {},
    error: 'Error: x',
    reason: 'exhausted',
    attemptsMade: 10,
    failedAt: new Date(parked).toISOString(),
    ...over,
  });

  it('waits the base delay, doubling with each re-drive', () => {
    expect(dueForRedrive(letter(), parked + 59_999, env)).toBe(false);
    expect(dueForRedrive(letter(), parked + 60_000, env)).toBe(true);
    expect(dueForRedrive(letter({ redrives: 1 }), parked + 119_999, env)).toBe(false);
    expect(dueForRedrive(letter({ redrives: 1 }), parked + 120_000, env)).toBe(true);
    expect(dueForRedrive(letter({ redrives: 2 }), parked + 240_000, env)).toBe(true);
  });

  it('caps the delay at 6 hours', () => {
    const big = { DEAD_LETTER_REDRIVE_BASE_MS: 3_600_000, DEAD_LETTER_REDRIVE_MAX: 10 };
    expect(dueForRedrive(letter({ redrives: 5 }), parked + 6 * 3_600_000, big)).toBe(true);
  });

  it('letters parked before re-drives existed count as never re-driven', () => {
    const { redrives: _, ...old } = letter();
    expect(dueForRedrive(old, parked + 60_000, env)).toBe(true);
  });

  it('leaves invalid letters and letters past the automatic budget to an operator', () => {
    expect(dueForRedrive(letter({ reason: 'invalid' }), parked + 86_400_000, env)).toBe(false);
    expect(dueForRedrive(letter({ redrives: 3 }), parked + 86_400_000, env)).toBe(false);
  });
});

describe('redriveIsSafe', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const memory = { [QueueName.Usage]: 7, [QueueName.Audit]: undefined };
  const daysAgo = (d: number) => new Date(now - d * 86_400_000).toISOString();
  const usage = (data: unknown): DeadLetter => ({
    queue: QueueName.Usage,
    jobId: 'j',
    data,
    error: 'Error: x',
    reason: 'exhausted',
    attemptsMade: 10,
    failedAt: daysAgo(0),
  });

  it('usage: while every event is younger than USAGE_DEDUPE_DAYS (an hour of margin for clocks)', () => {
    expect(redriveIsSafe(usage({ id: 'a', at: daysAgo(6.9) }), now, memory)).toBe(true);
    expect(redriveIsSafe(usage({ id: 'a', at: daysAgo(7) }), now, memory)).toBe(false);
    expect(redriveIsSafe(usage({ schemaVersion: 1, events: [{ at: daysAgo(1) }, { at: daysAgo(8) }] }), now, memory)).toBe(false);
    expect(redriveIsSafe(usage({ schemaVersion: 1, events: [{ at: daysAgo(1) }, { at: daysAgo(2) }] }), now, memory)).toBe(true);
  });

  it('an event without a readable time is invalid and will be refused again: safe', () => {
    expect(redriveIsSafe(usage({ not: 'an event' }), now, memory)).toBe(true);
  });

  it('audit: always while the chain keeps every id; within AUDIT_RETENTION_DAYS when it prunes', () => {
    const audit = { ...usage({ id: 'a', at: daysAgo(400) }), queue: QueueName.Audit } as DeadLetter;
    expect(redriveIsSafe(audit, now, memory)).toBe(true);
    expect(redriveIsSafe(audit, now, { ...memory, [QueueName.Audit]: 365 })).toBe(false);
  });
});
