-- CreateEnum
CREATE TYPE "NotificationTarget" AS ENUM ('chat', 'webhook');

-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "target" "NotificationTarget" NOT NULL DEFAULT 'chat';

-- CreateTable
CREATE TABLE "webhooks" (
    "id" SERIAL NOT NULL,
    "chat_id" INTEGER NOT NULL,
    "url" TEXT NOT NULL,
    "secret" TEXT NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhooks_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "webhooks_chat_id_key" ON "webhooks"("chat_id");

-- AddForeignKey
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;
