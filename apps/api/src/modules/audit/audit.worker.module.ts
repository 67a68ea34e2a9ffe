import { Module } from '@nestjs/common';
import { ActivityMirror } from './audit.activity-mirror';
import { AuditChainWriter } from './audit.chain-writer';
import { AuditConsumer } from './audit.consumer';
import { AuditRetention } from './audit.retention';
import { AuditVerifier } from './audit.verify';
import { AuditWebhookDeliverer } from './audit.webhook-deliverer';

/**
 * The worker side of the audit chain: the `tg-audit` consumer, the activity mirror (admin actions
 * into the chain), retention pruning and SIEM webhook delivery.
 */
@Module({
  providers: [AuditChainWriter, AuditConsumer, ActivityMirror, AuditRetention, AuditWebhookDeliverer, AuditVerifier],
  exports: [AuditChainWriter, AuditConsumer, ActivityMirror, AuditRetention, AuditWebhookDeliverer, AuditVerifier],
})
export class AuditWorkerModule {}
