import { AuditEvent, EVENT_SCHEMA_VERSION, eventBatchJob, eventsOfJob, MAX_EVENTS_PER_JOB, UsageEvent } from './events';

describe('event outcomes', () => {
  const audit = {
    schemaVersion: EVENT_SCHEMA_VERSION,
    id: '01931a2b-3c4d-7e5f-8a9b-0c1d2e3f4a5b',
    orgId: 'o',
    keyId: 'k',
    serverId: 's',
    serverSlug: 'files',
    method: 'tools/call',
    target: 'read_file',
    decision: 'allow',
    rule: null,
    outcome: 'ok',
    error: null,
    latencyMs: 1,
    bytesIn: 10,
    bytesOut: 0,
    clientName: null,
    clientVersion: null,
    sessionId: null,
    ip: null,
    at: '2026-12-07T05:00:00.000Z',
  };
  const usage = {
    schemaVersion: EVENT_SCHEMA_VERSION,
    id: audit.id,
    orgId: 'o',
    keyId: 'k',
    serverId: 's',
    target: 'read_file',
    method: 'tools/call',
    decision: 'allow',
    outcome: 'ok',
    durationMs: 1,
    bytesIn: 10,
    bytesOut: 0,
    at: audit.at,
  };

  it('accepts a cancelled call in audit and usage events, as every earlier outcome', () => {
    for (const outcome of ['ok', 'error', 'denied', 'timeout', 'upstream_error', 'cancelled']) {
      expect(AuditEvent.parse({ ...audit, outcome }).outcome).toBe(outcome);
      expect(UsageEvent.parse({ ...usage, outcome }).outcome).toBe(outcome);
    }
  });

  it('refuses an outcome it does not know', () => {
    expect(AuditEvent.safeParse({ ...audit, outcome: 'canceled' }).success).toBe(false);
    expect(UsageEvent.safeParse({ ...usage, outcome: 'aborted' }).success).toBe(false);
  });
});

describe('event jobs', () => {
  const ev = (id: string) => ({ id, orgId: 'o' });

  it('unpacks a batch, and takes a bare event as a batch of one', () => {
    expect(eventsOfJob({ schemaVersion: EVENT_SCHEMA_VERSION, events: [ev('a'), ev('b')] })).toEqual({
      ok: true,
      batch: true,
      events: [ev('a'), ev('b')],
    });
    expect(eventsOfJob(ev('a'))).toEqual({ ok: true, batch: false, events: [ev('a')] });
    // Not an object at all: one (invalid) event, refused by the event schema later, not here.
    expect(eventsOfJob('junk')).toEqual({ ok: true, batch: false, events: ['junk'] });
    expect(eventsOfJob(null)).toEqual({ ok: true, batch: false, events: [null] });
  });

  it('refuses a malformed batch whole', () => {
    for (const data of [
      { schemaVersion: EVENT_SCHEMA_VERSION, events: 'x' },
      { schemaVersion: EVENT_SCHEMA_VERSION, events: [] },
      { schemaVersion: 2, events: [ev('a')] },
      { events: [ev('a')] },
      { schemaVersion: EVENT_SCHEMA_VERSION, events: Array.from({ length: MAX_EVENTS_PER_JOB + 1 }, (_, i) => ev(String(i))) },
    ]) {
      expect(eventsOfJob(data).ok).toBe(false);
    }
  });

  it('names a job after its events: same events, same id; the count is readable from the id', () => {
    const job = eventBatchJob([ev('a'), ev('b')]);
    expect(job).toMatchObject({ name: 'events', data: { schemaVersion: EVENT_SCHEMA_VERSION, events: [ev('a'), ev('b')] } });
    expect(job.opts.jobId).toMatch(/^b2-[A-Za-z0-9_-]{43}$/);
    expect(eventBatchJob([ev('a'), ev('b')]).opts.jobId).toBe(job.opts.jobId);
    expect(eventBatchJob([ev('b'), ev('a')]).opts.jobId).not.toBe(job.opts.jobId);
    expect(eventBatchJob([ev('ab')]).opts.jobId).not.toBe(job.opts.jobId);
    expect(eventBatchJob([ev('ab'), ev('c')]).opts.jobId).not.toBe(eventBatchJob([ev('a'), ev('bc')]).opts.jobId);
  });
});
