import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AuditService } from './audit.service';
import { AuditVerifier } from './audit.verify';
import { AuditWebhooksController } from './audit-webhooks.controller';
import { AuditWebhooksService } from './audit-webhooks.service';

/**
 * The audit API (query, verify, export, SIEM webhooks). The webhooks controller comes first so
 * `audit/webhooks` is matched before `audit/:id`.
 */
@Module({
  controllers: [AuditWebhooksController, AuditController],
  providers: [AuditService, AuditVerifier, AuditWebhooksService],
  exports: [AuditVerifier],
})
export class AuditModule {}
