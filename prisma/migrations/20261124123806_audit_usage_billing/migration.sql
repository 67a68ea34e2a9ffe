-- CreateTable
CREATE TABLE "AuditEvent" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "prevHash" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "keyId" UUID,
    "serverId" UUID,
    "serverSlug" TEXT,
    "method" TEXT NOT NULL,
    "target" TEXT,
    "decision" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "rule" TEXT,
    "latencyMs" DOUBLE PRECISION NOT NULL,
    "bytesIn" INTEGER NOT NULL,
    "bytesOut" INTEGER NOT NULL,
    "clientName" TEXT,
    "clientVersion" TEXT,

    CONSTRAINT "AuditEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditHead" (
    "orgId" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "hash" TEXT NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AuditHead_pkey" PRIMARY KEY ("orgId")
);

-- CreateTable
CREATE TABLE "AuditCheckpoint" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "hash" TEXT NOT NULL,
    "pruned" INTEGER NOT NULL,
    "signature" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditCheckpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditWebhook" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "secret" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "deliveredSeq" BIGINT NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AuditWebhook_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditDelivery" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "webhookId" UUID NOT NULL,
    "fromSeq" BIGINT NOT NULL,
    "toSeq" BIGINT NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "responseStatus" INTEGER,
    "lastError" TEXT,
    "nextAttemptAt" TIMESTAMP(3),
    "deliveredAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UsageHourly" (
    "orgId" UUID NOT NULL,
    "hour" TIMESTAMP(3) NOT NULL,
    "keyId" TEXT NOT NULL DEFAULT '',
    "serverId" TEXT NOT NULL DEFAULT '',
    "target" TEXT NOT NULL DEFAULT '',
    "calls" INTEGER NOT NULL DEFAULT 0,
    "errors" INTEGER NOT NULL DEFAULT 0,
    "denied" INTEGER NOT NULL DEFAULT 0,
    "bytesIn" BIGINT NOT NULL DEFAULT 0,
    "bytesOut" BIGINT NOT NULL DEFAULT 0,
    "durationMs" DOUBLE PRECISION NOT NULL DEFAULT 0,

    CONSTRAINT "UsageHourly_pkey" PRIMARY KEY ("orgId","hour","keyId","serverId","target")
);

-- CreateTable
CREATE TABLE "UsageEventSeen" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "seenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UsageEventSeen_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BillingAccount" (
    "orgId" UUID NOT NULL,
    "stripeCustomerId" TEXT,
    "stripeSubscriptionId" TEXT,
    "status" TEXT NOT NULL DEFAULT 'none',
    "estimatedCentsPer1k" INTEGER,
    "currentPeriodStart" TIMESTAMP(3),
    "currentPeriodEnd" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BillingAccount_pkey" PRIMARY KEY ("orgId")
);

-- CreateTable
CREATE TABLE "MeterReport" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "hour" TIMESTAMP(3) NOT NULL,
    "quantity" INTEGER NOT NULL,
    "identifier" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "reportedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MeterReport_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Invoice" (
    "id" TEXT NOT NULL,
    "orgId" UUID NOT NULL,
    "number" TEXT,
    "status" TEXT NOT NULL,
    "currency" TEXT NOT NULL,
    "amountDue" INTEGER NOT NULL,
    "amountPaid" INTEGER NOT NULL,
    "hostedInvoiceUrl" TEXT,
    "invoicePdf" TEXT,
    "periodStart" TIMESTAMP(3),
    "periodEnd" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Invoice_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StripeEvent" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StripeEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "QuotaAlert" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "period" TEXT NOT NULL,
    "threshold" INTEGER NOT NULL,
    "calls" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "QuotaAlert_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "AuditEvent_orgId_idx" ON "AuditEvent"("orgId");

-- CreateIndex
CREATE INDEX "AuditEvent_orgId_at_idx" ON "AuditEvent"("orgId", "at");

-- CreateIndex
CREATE INDEX "AuditEvent_orgId_keyId_at_idx" ON "AuditEvent"("orgId", "keyId", "at");

-- CreateIndex
CREATE INDEX "AuditEvent_orgId_serverId_at_idx" ON "AuditEvent"("orgId", "serverId", "at");

-- CreateIndex
CREATE UNIQUE INDEX "AuditEvent_orgId_seq_key" ON "AuditEvent"("orgId", "seq");

-- CreateIndex
CREATE INDEX "AuditCheckpoint_orgId_idx" ON "AuditCheckpoint"("orgId");

-- CreateIndex
CREATE INDEX "AuditCheckpoint_orgId_seq_idx" ON "AuditCheckpoint"("orgId", "seq");

-- CreateIndex
CREATE INDEX "AuditWebhook_orgId_idx" ON "AuditWebhook"("orgId");

-- CreateIndex
CREATE INDEX "AuditDelivery_orgId_idx" ON "AuditDelivery"("orgId");

-- CreateIndex
CREATE INDEX "AuditDelivery_webhookId_createdAt_idx" ON "AuditDelivery"("webhookId", "createdAt");

-- CreateIndex
CREATE INDEX "UsageHourly_orgId_idx" ON "UsageHourly"("orgId");

-- CreateIndex
CREATE INDEX "UsageHourly_orgId_hour_idx" ON "UsageHourly"("orgId", "hour");

-- CreateIndex
CREATE INDEX "UsageEventSeen_orgId_idx" ON "UsageEventSeen"("orgId");

-- CreateIndex
CREATE INDEX "UsageEventSeen_seenAt_idx" ON "UsageEventSeen"("seenAt");

-- CreateIndex
CREATE UNIQUE INDEX "BillingAccount_stripeCustomerId_key" ON "BillingAccount"("stripeCustomerId");

-- CreateIndex
CREATE UNIQUE INDEX "BillingAccount_stripeSubscriptionId_key" ON "BillingAccount"("stripeSubscriptionId");

-- CreateIndex
CREATE UNIQUE INDEX "MeterReport_identifier_key" ON "MeterReport"("identifier");

-- CreateIndex
CREATE INDEX "MeterReport_orgId_idx" ON "MeterReport"("orgId");

-- CreateIndex
CREATE INDEX "MeterReport_status_idx" ON "MeterReport"("status");

-- CreateIndex
CREATE UNIQUE INDEX "MeterReport_orgId_hour_key" ON "MeterReport"("orgId", "hour");

-- CreateIndex
CREATE INDEX "Invoice_orgId_idx" ON "Invoice"("orgId");

-- CreateIndex
CREATE INDEX "QuotaAlert_orgId_idx" ON "QuotaAlert"("orgId");

-- CreateIndex
CREATE UNIQUE INDEX "QuotaAlert_orgId_period_threshold_key" ON "QuotaAlert"("orgId", "period", "threshold");

-- AddForeignKey
ALTER TABLE "AuditDelivery" ADD CONSTRAINT "AuditDelivery_webhookId_fkey" FOREIGN KEY ("webhookId") REFERENCES "AuditWebhook"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The audit chain is append-only: UPDATE is always refused; DELETE only while retention pruning
-- has set `toolgate.audit_prune = 'on'` for its transaction (SET LOCAL), and it records a signed
-- checkpoint so the remaining chain still verifies.
CREATE FUNCTION toolgate_audit_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('toolgate.audit_prune', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'AuditEvent is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_event_append_only
  BEFORE UPDATE OR DELETE ON "AuditEvent"
  FOR EACH ROW EXECUTE FUNCTION toolgate_audit_guard();

CREATE TRIGGER audit_event_no_truncate
  BEFORE TRUNCATE ON "AuditEvent"
  FOR EACH STATEMENT EXECUTE FUNCTION toolgate_audit_guard();
