-- Issue 18 (Try it): the API mints a short-lived agent key for each "Try it" call and revokes it
-- after the call. Marked so key lists leave it out and it can be neither edited nor rotated.
-- CreateEnum
CREATE TYPE "ApiKeyKind" AS ENUM ('agent', 'try_it');

-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "kind" "ApiKeyKind" NOT NULL DEFAULT 'agent';
