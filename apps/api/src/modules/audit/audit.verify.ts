import { Inject, Injectable } from '@nestjs/common';
import type { VerifyResult } from '@toolgate/contracts';
import { Prisma, type Tx } from '@toolgate/db';
import { ENV, type Env } from '../../config/env';
import { PrismaService } from '../../infra/prisma.service';
import { chainHash, checkpointKey, checkpointSignatureValid, GENESIS_HASH } from './audit.canonical';
import { type AuditColumns, columnsOf } from './audit.rules';

/** Rows read per query while walking. */
const WALK_BATCH = 1000;
/** Longest verification (one snapshot transaction); a chain that takes longer needs pruning. */
const VERIFY_TIMEOUT_MS = 30 * 60_000;

const COLUMN_NAMES: Array<keyof AuditColumns> = [
  'keyId',
  'serverId',
  'serverSlug',
  'method',
  'target',
  'decision',
  'outcome',
  'rule',
  'latencyMs',
  'bytesIn',
  'bytesOut',
  'clientName',
  'clientVersion',
];

interface Broken {
  seq: bigint;
  reason: string;
}

/**
 * Verifies an org's chain: starting at the newest retention checkpoint (whose HMAC must be valid)
 * or at genesis, it walks every event in seq order in batches and checks that
 *  - the sequence has no gap and the chain reaches its head (nothing deleted or truncated),
 *  - each prevHash is the previous event's hash (nothing reordered or spliced in),
 *  - each hash is sha256(prevHash ‖ canonical JSON of the stored payload) (nothing altered),
 *  - the filterable columns and the id/org are what the payload says (no column edited behind
 *    the payload's back),
 *  - the head row agrees with the last event, and no event lies beyond the head.
 * The walk runs in one read-only REPEATABLE READ transaction: head, checkpoint and events are one
 * consistent snapshot, so appends and retention prunes that commit meanwhile neither disturb it
 * nor raise false alarms (they are checked by the next run). Rows are still read in keyset
 * batches, so memory stays flat whatever the chain's length.
 */
@Injectable()
export class AuditVerifier {
  private readonly key: Buffer;

  constructor(
    @Inject(ENV) env: Env,
    private readonly prisma: PrismaService,
  ) {
    this.key = checkpointKey(env.TOOLGATE_SECRET_KEY, env.AUDIT_SIGNING_KEY);
  }

  verify(orgId: string): Promise<VerifyResult> {
    return this.prisma.db.$transaction(
      async (tx) => {
        await tx.$executeRaw`SET TRANSACTION READ ONLY`;
        return this.walk(tx, orgId);
      },
      { isolationLevel: Prisma.TransactionIsolationLevel.RepeatableRead, maxWait: 10_000, timeout: VERIFY_TIMEOUT_MS },
    );
  }

  private async walk(db: Tx, orgId: string): Promise<VerifyResult> {
    const head = await db.auditHead.findUnique({ where: { orgId } });
    const cp = await db.auditCheckpoint.findFirst({ where: { orgId }, orderBy: [{ seq: 'desc' }, { createdAt: 'desc' }] });
    const headSeq = head?.seq ?? 0n;
    const headHash = head?.hash ?? GENESIS_HASH;
    const signatureValid = cp ? checkpointSignatureValid(this.key, orgId, cp.seq, cp.hash, cp.signature) : false;
    const startSeq = cp ? cp.seq + 1n : 1n;
    let checked = 0;
    const done = (broken: Broken | null): VerifyResult => ({
      valid: broken === null,
      checked,
      firstBrokenSeq: broken ? Number(broken.seq) : null,
      reason: broken?.reason ?? null,
      fromSeq: Number(startSeq),
      headSeq: Number(headSeq),
      headHash,
      checkpoint: cp
        ? { seq: Number(cp.seq), hash: cp.hash, pruned: cp.pruned, createdAt: cp.createdAt.toISOString(), signatureValid }
        : null,
    });

    if (cp && !signatureValid)
      return done({ seq: startSeq, reason: 'the retention checkpoint signature is invalid (forged or altered checkpoint)' });
    if (cp && cp.seq > headSeq) return done({ seq: headSeq + 1n, reason: 'the retention checkpoint lies beyond the chain head' });

    let expected = startSeq;
    let prev = cp ? cp.hash : GENESIS_HASH;
    while (expected <= headSeq) {
      const rows = await db.auditEvent.findMany({
        where: { orgId, seq: { gte: expected, lte: headSeq } },
        orderBy: { seq: 'asc' },
        take: WALK_BATCH,
      });
      if (rows.length === 0) break;
      for (const row of rows) {
        if (row.seq !== expected) return done({ seq: expected, reason: `event ${expected} is missing (sequence gap)` });
        if (row.prevHash !== prev) return done({ seq: row.seq, reason: "prevHash does not match the previous event's hash" });
        const payload = row.payload as Record<string, unknown> | null;
        if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
          return done({ seq: row.seq, reason: 'payload is not a JSON object' });
        }
        let hash: string;
        try {
          hash = chainHash(prev, payload);
        } catch {
          return done({ seq: row.seq, reason: 'payload cannot be canonicalised' });
        }
        if (hash !== row.hash) return done({ seq: row.seq, reason: 'payload does not match its hash (altered event)' });
        const mismatch = columnMismatch(row, columnsOf(payload), orgId);
        if (mismatch) return done({ seq: row.seq, reason: `column ${mismatch} does not match the hashed payload` });
        prev = row.hash;
        expected++;
        checked++;
      }
    }
    if (expected <= headSeq) return done({ seq: expected, reason: `event ${expected} is missing (the chain ends before its head)` });
    if (prev !== headHash) return done({ seq: headSeq, reason: "the chain head's hash does not match the last event" });
    // Nothing may lie beyond the head (re-read: the chain may have grown meanwhile).
    const [beyond, head2] = await Promise.all([
      db.auditEvent.findFirst({ where: { orgId }, orderBy: { seq: 'desc' }, select: { seq: true } }),
      db.auditHead.findUnique({ where: { orgId }, select: { seq: true } }),
    ]);
    if (beyond && beyond.seq > (head2?.seq ?? 0n))
      return done({ seq: (head2?.seq ?? 0n) + 1n, reason: 'events lie beyond the chain head' });
    return done(null);
  }
}

function columnMismatch(
  row: Record<string, unknown> & { id: string; orgId: string; at: Date },
  c: AuditColumns,
  orgId: string,
): string | null {
  if (c.id !== row.id) return 'id';
  if (c.orgId !== orgId || row.orgId !== orgId) return 'orgId';
  if (c.at.getTime() !== row.at.getTime()) return 'at';
  for (const name of COLUMN_NAMES) if (c[name] !== row[name]) return name;
  return null;
}
