import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  PROBE_SCHEMA_VERSION,
  ProbeReply,
  type ProbeRequest,
  redisKeys,
  type ServerCatalog,
  type SnapshotServer,
} from '@toolgate/contracts';
import type Redis from 'ioredis';
import { ErrorCode, Problem } from '../../common/problem';
import { ENV, type Env } from '../../config/env';
import { RedisService } from '../../infra/redis.service';
import { describeFailure } from '../../infra/failures';

/** What the gateway worker found: the catalogue, or why it could not read it. */
export type ProbeOutcome = { catalog: ServerCatalog } | { error: string };

/**
 * After the deadline the worker still stops the server (SIGTERM, then SIGKILL) before it answers;
 * wait this much longer for that answer (ms).
 */
const OUTCOME_GRACE_MS = 5000;

/**
 * Probes run on a gateway worker, never here: the API holds the database and the signing keys,
 * and a tenant's command must not run next to them. This client hands a ProbeRequest to the
 * workers over Redis and waits for their answer on its own connection (a blocking pop would
 * stall every other command on the shared one).
 */
@Injectable()
export class ProbeClient {
  private readonly logger = new Logger('Probe');

  constructor(
    private readonly redis: RedisService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  /**
   * Throws Problem 503 `probe_unavailable` when no worker takes the request within
   * PROBE_PICKUP_TIMEOUT_MS (the request is taken back, so none starts it later) or Redis is
   * unreachable; a worker that took it but sends no outcome in time becomes an error outcome.
   */
  async probe(orgId: string, server: SnapshotServer, secrets: Record<string, string>): Promise<ProbeOutcome> {
    const sentAt = Date.now();
    const request: ProbeRequest = {
      schemaVersion: PROBE_SCHEMA_VERSION,
      id: randomUUID(),
      orgId,
      server,
      secrets,
      deadline: sentAt + this.env.PROBE_TIMEOUT_MS,
    };
    const payload = JSON.stringify(request);
    const replyKey = redisKeys.probeReply(request.id);
    // One connection per probe, never re-established: a probe that loses Redis fails (503).
    const conn = this.redis.client.duplicate({ lazyConnect: true, retryStrategy: () => null });
    conn.on('error', () => undefined);
    try {
      await conn.connect();
      await conn.rpush(redisKeys.probeRequests, payload);
      let reply = await this.nextReply(conn, request.id, Math.min(sentAt + this.env.PROBE_PICKUP_TIMEOUT_MS, request.deadline));
      if (reply === null) {
        if ((await conn.lrem(redisKeys.probeRequests, 1, payload)) > 0) throw this.noWorker();
        // Not in the list any more: a worker took it just now, and its answer is on the way.
      }
      while (reply === null || reply.kind === 'accepted') {
        reply = await this.nextReply(conn, request.id, request.deadline + OUTCOME_GRACE_MS);
        if (reply === null) {
          return { error: `timed out after ${seconds(this.env.PROBE_TIMEOUT_MS)}: the gateway worker took the probe but sent no outcome` };
        }
      }
      return reply.kind === 'result' ? { catalog: reply.catalog } : { error: reply.message };
    } catch (e) {
      if (e instanceof Problem) throw e;
      this.logger.warn(`probe ${request.id}: ${describeFailure(e)}`);
      throw new Problem(503, ErrorCode.ProbeUnavailable, 'Redis is unreachable, so the probe could not reach a gateway worker; try again');
    } finally {
      conn.disconnect();
      // Nobody reads the reply list after this; it would expire anyway.
      this.redis.client.del(replyKey).catch(() => undefined);
    }
  }

  /** The next reply for `id`, or null once `until` (epoch ms) passes. */
  private async nextReply(conn: Redis, id: string, until: number): Promise<ProbeReply | null> {
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) return null;
      // BLPOP takes seconds; 0 would mean "forever".
      const popped = await conn.blpop(redisKeys.probeReply(id), Math.max(left, 10) / 1000);
      if (popped === null) return null;
      const parsed = safeJson(popped[1]);
      const reply = ProbeReply.safeParse(parsed);
      if (reply.success && reply.data.id === id) return reply.data;
      this.logger.warn(`probe ${id}: ignored a malformed reply`);
    }
  }

  private noWorker(): Problem {
    return new Problem(
      503,
      ErrorCode.ProbeUnavailable,
      `no gateway worker took the probe within ${seconds(this.env.PROBE_PICKUP_TIMEOUT_MS)}; is a gateway running?`,
    );
  }
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
