-- Issue 4 (usage and billing): quota-alert webhook delivery state, the alert webhook URL and the
-- metering start on BillingAccount, and a retry/lease time on MeterReport.
-- AlterTable
ALTER TABLE "BillingAccount" ADD COLUMN     "alertWebhookUrl" TEXT,
ADD COLUMN     "meteringStartedAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "MeterReport" ADD COLUMN     "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- AlterTable
ALTER TABLE "QuotaAlert" ADD COLUMN     "deliveredAt" TIMESTAMP(3),
ADD COLUMN     "deliveryAttempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "deliveryStatus" TEXT NOT NULL DEFAULT 'none',
ADD COLUMN     "lastError" TEXT,
ADD COLUMN     "nextAttemptAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "MeterReport_status_nextAttemptAt_idx" ON "MeterReport"("status", "nextAttemptAt");

-- CreateIndex
CREATE INDEX "QuotaAlert_deliveryStatus_nextAttemptAt_idx" ON "QuotaAlert"("deliveryStatus", "nextAttemptAt");
