-- Issue 17: management API tokens (personal access tokens and org service accounts) for
-- automation against /v1, and which token made an activity-log entry.
-- CreateEnum
CREATE TYPE "ManagementTokenKind" AS ENUM ('personal', 'service_account');

-- CreateEnum
CREATE TYPE "ManagementScope" AS ENUM ('read', 'manage', 'billing');

-- CreateTable
CREATE TABLE "ManagementToken" (
    "id" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "kind" "ManagementTokenKind" NOT NULL,
    "userId" UUID,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "scopes" "ManagementScope"[],
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "revokedAt" TIMESTAMP(3),
    "lastUsedAt" TIMESTAMP(3),
    "createdById" UUID,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ManagementToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ActivityTokenActor" (
    "activityId" UUID NOT NULL,
    "orgId" UUID NOT NULL,
    "tokenId" UUID NOT NULL,
    "kind" "ManagementTokenKind" NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ActivityTokenActor_pkey" PRIMARY KEY ("activityId")
);

-- CreateIndex
CREATE UNIQUE INDEX "ManagementToken_hash_key" ON "ManagementToken"("hash");

-- CreateIndex
CREATE INDEX "ManagementToken_orgId_kind_idx" ON "ManagementToken"("orgId", "kind");

-- CreateIndex
CREATE INDEX "ManagementToken_userId_idx" ON "ManagementToken"("userId");

-- CreateIndex
CREATE INDEX "ActivityTokenActor_orgId_tokenId_idx" ON "ActivityTokenActor"("orgId", "tokenId");
