import { once } from 'node:events';
import { Controller, Get, Logger, Param, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { z } from 'zod';
import { CurrentOrg, type OrgContext, OrgRoles, Roles } from '../../common/auth';
import { UuidParam } from '../../common/uuid-param.pipe';
import { ZQuery } from '../../common/zod';
import { ExportAuditQuery, ListAuditQuery } from './audit.dto';
import { AuditService, type LineSink } from './audit.service';
import { AuditVerifier } from './audit.verify';

const EventId = new UuidParam('Audit event');

/**
 * The org's audit chain: gateway calls and admin actions, hash-chained (see audit.canonical.ts).
 * Readable by owner, admin and member; billing members cannot read it. Nothing here changes it.
 */
@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/orgs/:org/audit')
export class AuditController {
  private readonly logger = new Logger('AuditExport');

  constructor(
    private readonly audit: AuditService,
    private readonly verifier: AuditVerifier,
  ) {}

  /** Newest first; filters combine with AND; `nextCursor` pages on. */
  @Get()
  @OrgRoles(Roles.read)
  list(@CurrentOrg() org: OrgContext, @ZQuery(ListAuditQuery) q: z.output<typeof ListAuditQuery>) {
    return this.audit.list(org.id, q);
  }

  /** Walks the chain from the newest retention checkpoint (or genesis) and reports the first broken link. */
  @Get('verify')
  @OrgRoles(Roles.read)
  verify(@CurrentOrg() org: OrgContext) {
    return this.verifier.verify(org.id);
  }

  /** NDJSON: a header line, one line per event (seq, id, prevHash, hash, receivedAt, payload), a trailer. */
  @Get('export')
  @OrgRoles(Roles.read)
  async export(
    @CurrentOrg() org: OrgContext,
    @ZQuery(ExportAuditQuery) q: z.output<typeof ExportAuditQuery>,
    @Res() res: Response,
  ): Promise<void> {
    res.status(200);
    res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    res.setHeader(
      'Content-Disposition',
      `attachment; filename="audit-${org.slug}-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson"`,
    );
    res.setHeader('Cache-Control', 'no-store');
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    const sink: LineSink = {
      get closed() {
        return closed || res.destroyed;
      },
      async write(chunk: string) {
        if (closed || res.destroyed) return;
        if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      },
    };
    try {
      await this.audit.export(org.id, org.slug, q, sink);
      res.end();
    } catch (e) {
      // Headers are out: end the response abruptly so the client cannot take it for complete
      // (a complete export always ends with its `end` trailer line).
      this.logger.error(`audit export of org ${org.id} failed: ${(e as Error).stack ?? e}`);
      res.destroy(e as Error);
    }
  }

  @Get(':id')
  @OrgRoles(Roles.read)
  get(@CurrentOrg() org: OrgContext, @Param('id', EventId) id: string) {
    return this.audit.get(org.id, id);
  }
}
