import { PROBE_SCHEMA_VERSION, type ProbeReply, ProbeRequest, redisKeys } from '@toolgate/contracts';
import Redis from 'ioredis';
import { z } from 'zod';
import { type ProbeDeps, runProbe } from './probe';

export type ProbeCount = 'result' | 'error' | 'expired' | 'malformed';

export interface ProberOptions extends ProbeDeps {
  redisUrl: string;
  /** For replies; the prober opens its own connection for the blocking pop. */
  redis: Redis;
  workerId: string;
  /** Probes this worker runs at once; it takes no request while all are busy. */
  concurrency: number;
  /** Each request taken, by how it ended (metrics). */
  count?: (outcome: ProbeCount) => void;
  /** A request dropped or a reply that could not be sent (operators' logs). */
  warn?: (message: string) => void;
}

/** BLPOP timeout (s): close() waits at most this long for the loop to notice. */
const POLL_SECONDS = 0.5;
/** After a Redis error, wait this long before popping again (ms). */
const RETRY_MS = 500;
/** A reply list outlives the request's deadline by this much, then expires (ms). */
const REPLY_TTL_MS = 60_000;

/** Enough of a request to answer it, when the rest does not parse (e.g. a newer schemaVersion). */
const Addressable = z.object({ id: z.string().uuid() });

/**
 * Takes probe requests off `redisKeys.probeRequests` and runs them (see runProbe): answers
 * `accepted` as soon as it has one, then `result` or `error`, on the request's reply list. Only
 * one worker gets each request (BLPOP). A request past its deadline is dropped unanswered: the
 * API stopped waiting for it. A malformed request is answered with an error when it names its
 * id, else dropped; neither stops the loop.
 */
export class Prober {
  private readonly blocking: Redis;
  private readonly running = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  private loop: Promise<void> | undefined;
  private closed = false;
  /** Resolved by close() when a pop is still waiting after POLL_SECONDS: Redis is away. */
  private giveUp: () => void = () => undefined;
  private readonly givenUp = new Promise<null>((resolve) => {
    this.giveUp = () => resolve(null);
  });

  constructor(private readonly options: ProberOptions) {
    this.blocking = new Redis(options.redisUrl, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 100, 2000) });
    this.blocking.on('error', () => undefined);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stop taking requests; probes still running end with an error reply; then disconnect. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.shutdown.abort();
    // A pop returns within POLL_SECONDS, unless Redis is away: then it waits for a reconnect
    // that may never come (and ioredis does not fail it on disconnect), so stop waiting for it.
    const timer = setTimeout(() => this.giveUp(), POLL_SECONDS * 1000 + 500);
    await this.loop;
    clearTimeout(timer);
    this.blocking.disconnect();
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      if (this.running.size >= this.options.concurrency) {
        await Promise.race(this.running);
        continue;
      }
      let popped: [string, string] | null;
      try {
        popped = await Promise.race([this.blocking.blpop(redisKeys.probeRequests, POLL_SECONDS), this.givenUp]);
      } catch (e) {
        if (this.closed) return;
        this.options.warn?.(`probe: taking a request failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, RETRY_MS));
        continue;
      }
      if (popped === null) continue;
      const job = this.handle(popped[1]).catch((e: unknown) => this.options.warn?.(`probe: ${(e as Error).message}`));
      this.running.add(job);
      void job.finally(() => this.running.delete(job));
    }
  }

  private async handle(raw: string): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return this.malformed(null, 'it is not JSON');
    }
    const parsed = ProbeRequest.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
      const why =
        version !== PROBE_SCHEMA_VERSION
          ? `its schemaVersion is ${JSON.stringify(version)}, this worker reads ${PROBE_SCHEMA_VERSION}`
          : `${issue.path.join('.')}: ${issue.message}`;
      const target = Addressable.safeParse(json);
      return this.malformed(target.success ? target.data.id : null, why);
    }
    const req = parsed.data;
    if (req.deadline <= Date.now()) {
      this.options.count?.('expired');
      this.options.warn?.(`probe ${req.id}: dropped, its deadline passed before a worker was free`);
      return;
    }
    await this.reply(req.id, req.deadline, { kind: 'accepted', id: req.id, workerId: this.options.workerId });
    const outcome = await runProbe(req, this.options, this.shutdown.signal);
    this.options.count?.('catalog' in outcome ? 'result' : 'error');
    await this.reply(
      req.id,
      req.deadline,
      'catalog' in outcome
        ? { kind: 'result', id: req.id, catalog: outcome.catalog }
        : { kind: 'error', id: req.id, message: outcome.error },
    );
  }

  private async malformed(id: string | null, why: string): Promise<void> {
    this.options.count?.('malformed');
    this.options.warn?.(`probe ${id ?? '(no id)'}: malformed request (${why})${id ? '' : ', dropped'}`);
    if (id) await this.reply(id, Date.now(), { kind: 'error', id, message: `the gateway worker could not read the probe request: ${why}` });
  }

  private async reply(id: string, deadline: number, reply: ProbeReply): Promise<void> {
    const key = redisKeys.probeReply(id);
    await this.options.redis
      .multi()
      .rpush(key, JSON.stringify(reply))
      .pexpire(key, Math.max(0, deadline - Date.now()) + REPLY_TTL_MS)
      .exec();
  }
}
