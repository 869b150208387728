-- CreateEnum
CREATE TYPE "Side" AS ENUM ('above', 'below');

-- AlterTable
ALTER TABLE "alert_rules" ADD COLUMN     "side" "Side",
ADD COLUMN     "went_back" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE INDEX "notifications_rule_id_idx" ON "notifications"("rule_id");
