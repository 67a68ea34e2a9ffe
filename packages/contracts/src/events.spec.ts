import { EVENT_SCHEMA_VERSION, eventBatchJob, eventsOfJob, MAX_EVENTS_PER_JOB } from './events';

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
