-- Issue 14 (agents never see each other): who shares a server's upstream. Null means the
-- transport's default (per-key for stdio, per-session for HTTP), so existing servers stop being
-- shared across keys; an org admin opts a stateless server into shared.
-- CreateEnum
CREATE TYPE "ServerIsolation" AS ENUM ('per-session', 'per-key', 'shared');

-- AlterTable
ALTER TABLE "McpServer" ADD COLUMN     "isolation" "ServerIsolation";
