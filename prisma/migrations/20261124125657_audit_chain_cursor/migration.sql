-- Issue 4 (audit chain): the keyset cursor of ActivityLog rows mirrored into each org's chain
-- (admin actions become chain events too), an index for exports bounded by receipt time, and one
-- for the SIEM webhook deliverer's scan of due deliveries. AuditEvent's orgId index goes: the
-- unique (orgId, seq) index serves the same lookups, and every index costs each append.
-- AlterTable
ALTER TABLE "AuditHead" ADD COLUMN     "activityAt" TIMESTAMP(3),
ADD COLUMN     "activityId" UUID;

-- CreateIndex
CREATE INDEX "AuditEvent_orgId_receivedAt_idx" ON "AuditEvent"("orgId", "receivedAt");

-- CreateIndex
CREATE INDEX "AuditDelivery_status_nextAttemptAt_idx" ON "AuditDelivery"("status", "nextAttemptAt");

-- DropIndex
DROP INDEX "AuditEvent_orgId_idx";
