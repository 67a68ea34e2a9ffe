import { Injectable } from '@nestjs/common';
import type { Prisma } from '@toolgate/db';
import { Problem } from '../../common/problem';
import { PrismaService } from '../../infra/prisma.service';
import { CHAIN_SPEC } from './audit.canonical';
import type { ExportAuditQuery, ListAuditQuery } from './audit.dto';
import { eventLine, fullRecord, listItem } from './audit.view';

/** Rows read per query while exporting. */
const EXPORT_BATCH = 1000;

/** Where an export writes: `write` resolves once the sink can take more (backpressure). */
export interface LineSink {
  write(chunk: string): Promise<void>;
  /** True once the client has gone away: stop reading. */
  readonly closed: boolean;
}

@Injectable()
export class AuditService {
  constructor(private readonly prisma: PrismaService) {}

  async list(orgId: string, q: ListAuditQuery) {
    const where: Prisma.AuditEventWhereInput = {
      orgId,
      ...(q.from || q.to ? { at: { ...(q.from ? { gte: q.from } : {}), ...(q.to ? { lt: q.to } : {}) } } : {}),
      ...(q.keyId ? { keyId: q.keyId } : {}),
      ...(q.serverId ? { serverId: q.serverId } : {}),
      ...(q.target ? { target: q.target } : {}),
      ...(q.method ? { method: q.method } : {}),
      ...(q.decision ? { decision: q.decision } : {}),
      ...(q.outcome ? { outcome: q.outcome } : {}),
      ...(q.cursor ? { seq: { lt: q.cursor } } : {}),
    };
    const rows = await this.prisma.db.auditEvent.findMany({ where, orderBy: { seq: 'desc' }, take: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const more = rows.length > q.limit;
    return { items: page.map(listItem), nextCursor: more ? String(page.at(-1)!.seq) : null };
  }

  async get(orgId: string, id: string) {
    const row = await this.prisma.db.auditEvent.findFirst({ where: { id, orgId } });
    if (!row) throw Problem.notFound('Audit event');
    return fullRecord(row);
  }

  /**
   * Streams an NDJSON export: a header line (what the chain is and how to verify it), one line
   * per event in seq order (seq, id, prevHash, hash, receivedAt, payload), and a trailer with the
   * count and the last hash, so a truncated file is recognisable. Rows are read in keyset
   * batches: memory stays flat whatever the size of the chain.
   *
   * `from`/`to` select by receipt time and yield a contiguous run of the chain (receivedAt never
   * decreases along a chain), so the slice verifies on its own: its first prevHash is the anchor.
   */
  async export(orgId: string, orgSlug: string, q: ExportAuditQuery, out: LineSink): Promise<void> {
    const db = this.prisma.db;
    const [head, cp] = await Promise.all([
      db.auditHead.findUnique({ where: { orgId } }),
      db.auditCheckpoint.findFirst({ where: { orgId }, orderBy: [{ seq: 'desc' }, { createdAt: 'desc' }] }),
    ]);
    const headSeq = head?.seq ?? 0n;
    const first = q.from
      ? await db.auditEvent.findFirst({
          where: { orgId, receivedAt: { gte: q.from }, seq: { lte: headSeq } },
          orderBy: [{ receivedAt: 'asc' }, { seq: 'asc' }],
          select: { seq: true },
        })
      : null;
    const last = q.to
      ? await db.auditEvent.findFirst({
          where: { orgId, receivedAt: { lt: q.to }, seq: { lte: headSeq } },
          orderBy: [{ receivedAt: 'desc' }, { seq: 'desc' }],
          select: { seq: true },
        })
      : null;
    const fromSeq = q.from ? (first?.seq ?? headSeq + 1n) : 1n;
    const toSeq = q.to ? (last?.seq ?? 0n) : headSeq;

    await out.write(
      `${JSON.stringify({
        type: 'header',
        format: 'toolgate-audit-export',
        version: 1,
        orgId,
        org: orgSlug,
        generatedAt: new Date().toISOString(),
        filters: { from: q.from?.toISOString() ?? null, to: q.to?.toISOString() ?? null },
        chain: CHAIN_SPEC,
        payloadKinds: {
          call: "a gateway call: the gateway's audit event as emitted (schemaVersion 1)",
          admin:
            'an admin action from the activity log: kind "admin", method "admin.<action>", actorId, targetType, targetId, before, after, at',
        },
        verification:
          "For each event line in order: hash must equal sha256(prevHash + canonicalJson(payload)); each prevHash must equal the previous line's hash; seq must increase by 1. The first line's prevHash is the anchor: the genesis hash at seq 1, else the hash of the event before (or the retention checkpoint's hash).",
        headSeq: Number(headSeq),
        headHash: head?.hash ?? CHAIN_SPEC.genesisPrevHash,
        checkpoint: cp ? { seq: Number(cp.seq), hash: cp.hash, pruned: cp.pruned, createdAt: cp.createdAt.toISOString() } : null,
      })}\n`,
    );

    let count = 0;
    let firstSeq: bigint | null = null;
    let lastLine: { seq: bigint; hash: string } | null = null;
    let cursor = fromSeq - 1n;
    while (!out.closed && cursor < toSeq) {
      const rows = await db.auditEvent.findMany({
        where: { orgId, seq: { gt: cursor, lte: toSeq } },
        orderBy: { seq: 'asc' },
        take: EXPORT_BATCH,
        select: { id: true, seq: true, prevHash: true, hash: true, receivedAt: true, payload: true },
      });
      if (rows.length === 0) break;
      firstSeq ??= rows[0]!.seq;
      let chunk = '';
      for (const row of rows) chunk += `${eventLine(row)}\n`;
      await out.write(chunk);
      count += rows.length;
      const tail = rows.at(-1)!;
      lastLine = { seq: tail.seq, hash: tail.hash };
      cursor = tail.seq;
    }
    if (out.closed) return;
    await out.write(
      `${JSON.stringify({
        type: 'end',
        count,
        firstSeq: firstSeq === null ? null : Number(firstSeq),
        lastSeq: lastLine ? Number(lastLine.seq) : null,
        lastHash: lastLine?.hash ?? null,
        complete: true,
      })}\n`,
    );
  }
}
