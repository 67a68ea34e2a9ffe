-- Issue 13 (stdio sandbox): what each stdio server's sandbox may reach. Existing servers get
-- none, the confined default; an org admin opts a server into egress.
-- CreateEnum
CREATE TYPE "NetworkPolicy" AS ENUM ('none', 'egress');

-- AlterTable
ALTER TABLE "McpServer" ADD COLUMN     "network" "NetworkPolicy" NOT NULL DEFAULT 'none';
