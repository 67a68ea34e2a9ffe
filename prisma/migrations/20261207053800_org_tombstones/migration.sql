-- Issue 15 (snapshots never vanish with Redis): a deleted org is remembered, so the API can
-- write its tombstone again after Redis lost its data. Orgs deleted before this migration have
-- no row: gateways dropped them when their snapshot key was deleted, and never load them again
-- because their slug mapping went with it.
-- CreateTable
CREATE TABLE "OrgTombstone" (
    "orgId" UUID NOT NULL,
    "slug" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "deletedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "publishedAt" TIMESTAMP(3),

    CONSTRAINT "OrgTombstone_pkey" PRIMARY KEY ("orgId")
);

-- CreateIndex
CREATE INDEX "OrgTombstone_publishedAt_idx" ON "OrgTombstone"("publishedAt");
