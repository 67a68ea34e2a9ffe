import { randomUUID } from 'node:crypto';
import { eventBatchJob, MAX_EVENTS_PER_JOB } from '@toolgate/contracts';
import type { Queue } from 'bullmq';

/** How a test producer enqueues events. */
export interface AddOptions {
  /** Job options on top of the queue's defaults (fast retries in tests; the gateway never sets any). */
  jobOptions?: Record<string, unknown>;
  /** Events per job; default MAX_EVENTS_PER_JOB, as the gateway. */
  perJob?: number;
  /** Replaces the id of the n-th job (the same events re-sent under another job). */
  jobId?: (n: number) => string;
}

/**
 * Enqueues events the way the gateway's QueueEventSink does: `EventBatch` jobs of up to
 * MAX_EVENTS_PER_JOB events, job id from their ids (`eventBatchJob`). Events may be invalid on
 * purpose (poison); one without an id gets a random one for the job id only. Returns the job ids.
 */
export async function addBatches(queue: Queue, events: ReadonlyArray<object>, opts: AddOptions = {}): Promise<string[]> {
  const perJob = opts.perJob ?? MAX_EVENTS_PER_JOB;
  const ids: string[] = [];
  const jobs = [];
  for (let i = 0; i < events.length; i += perJob) {
    const chunk = events.slice(i, i + perJob);
    const job = eventBatchJob(chunk.map((e) => ({ id: String((e as { id?: unknown }).id ?? randomUUID()) })));
    const jobId = opts.jobId?.(ids.length) ?? job.opts.jobId;
    ids.push(jobId);
    jobs.push({ name: job.name, data: { ...job.data, events: chunk }, opts: { ...opts.jobOptions, jobId } });
  }
  for (let i = 0; i < jobs.length; i += 100) await queue.addBulk(jobs.slice(i, i + 100));
  return ids;
}

/**
 * Enqueues bare events, one job each (job id = event id, or a random one), as gateways did before
 * they batched; consumers still take them. Returns the job ids.
 */
export async function addEach(queue: Queue, events: ReadonlyArray<object>, opts: Pick<AddOptions, 'jobOptions'> = {}): Promise<string[]> {
  const jobs = events.map((e) => {
    const ev = e as { id?: unknown; orgId?: unknown };
    return { name: String(ev.orgId || 'event'), data: e, opts: { ...opts.jobOptions, jobId: String(ev.id ?? randomUUID()) } };
  });
  for (let i = 0; i < jobs.length; i += 500) await queue.addBulk(jobs.slice(i, i + 500));
  return jobs.map((j) => j.opts.jobId);
}
