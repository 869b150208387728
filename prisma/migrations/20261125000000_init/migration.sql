-- CreateEnum
CREATE TYPE "Platform" AS ENUM ('telegram', 'discord', 'console');

-- CreateEnum
CREATE TYPE "ChatKind" AS ENUM ('private', 'group', 'channel');

-- CreateEnum
CREATE TYPE "RuleKind" AS ENUM ('level', 'crosses', 'move', 'window_move');

-- CreateEnum
CREATE TYPE "RepeatPolicy" AS ENUM ('once', 'every');

-- CreateEnum
CREATE TYPE "RuleState" AS ENUM ('active', 'paused', 'fired', 'expired', 'deleted');

-- CreateEnum
CREATE TYPE "NotificationStatus" AS ENUM ('pending', 'sending', 'sent', 'failed');

-- CreateTable
CREATE TABLE "chats" (
    "id" SERIAL NOT NULL,
    "platform" "Platform" NOT NULL,
    "external_id" TEXT NOT NULL,
    "kind" "ChatKind" NOT NULL DEFAULT 'private',
    "title" TEXT,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "timezone" TEXT,
    "language" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "chats_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "watches" (
    "id" SERIAL NOT NULL,
    "chat_id" INTEGER NOT NULL,
    "exchange" TEXT NOT NULL,
    "pair" TEXT NOT NULL,
    "move_pct" DECIMAL(38,18) NOT NULL DEFAULT 3,
    "reference_price" DECIMAL(38,18),
    "last_notified_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "watches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_rules" (
    "id" SERIAL NOT NULL,
    "chat_id" INTEGER NOT NULL,
    "creator_id" TEXT,
    "exchange" TEXT NOT NULL,
    "pair" TEXT NOT NULL,
    "kind" "RuleKind" NOT NULL,
    "op" TEXT NOT NULL,
    "threshold" DECIMAL(38,18) NOT NULL,
    "window_sec" INTEGER,
    "repeat" "RepeatPolicy" NOT NULL DEFAULT 'once',
    "cooldown_sec" INTEGER,
    "expires_at" TIMESTAMPTZ(3),
    "state" "RuleState" NOT NULL DEFAULT 'active',
    "armed" BOOLEAN NOT NULL DEFAULT true,
    "reference_price" DECIMAL(38,18),
    "last_price" DECIMAL(38,18),
    "last_fired_at" TIMESTAMPTZ(3),
    "fire_count" INTEGER NOT NULL DEFAULT 0,
    "note" TEXT,
    "source" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "alert_rules_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notifications" (
    "id" BIGSERIAL NOT NULL,
    "chat_id" INTEGER NOT NULL,
    "rule_id" INTEGER,
    "dedupe_key" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "payload" JSONB,
    "status" "NotificationStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "chats_platform_external_id_key" ON "chats"("platform", "external_id");

-- CreateIndex
CREATE INDEX "watches_exchange_pair_idx" ON "watches"("exchange", "pair");

-- CreateIndex
CREATE UNIQUE INDEX "watches_chat_id_exchange_pair_key" ON "watches"("chat_id", "exchange", "pair");

-- CreateIndex
CREATE INDEX "alert_rules_state_exchange_pair_idx" ON "alert_rules"("state", "exchange", "pair");

-- CreateIndex
CREATE INDEX "alert_rules_chat_id_state_idx" ON "alert_rules"("chat_id", "state");

-- CreateIndex
CREATE UNIQUE INDEX "notifications_dedupe_key_key" ON "notifications"("dedupe_key");

-- CreateIndex
CREATE INDEX "notifications_status_next_attempt_at_idx" ON "notifications"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "notifications_chat_id_status_idx" ON "notifications"("chat_id", "status");

-- AddForeignKey
ALTER TABLE "watches" ADD CONSTRAINT "watches_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alert_rules" ADD CONSTRAINT "alert_rules_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_rule_id_fkey" FOREIGN KEY ("rule_id") REFERENCES "alert_rules"("id") ON DELETE SET NULL ON UPDATE CASCADE;
