-- AlterTable
ALTER TABLE "alert_rules" ADD COLUMN     "snoozed_until" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "channel_links" (
    "id" SERIAL NOT NULL,
    "owner_chat_id" INTEGER NOT NULL,
    "channel_chat_id" INTEGER NOT NULL,
    "linked_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "channel_links_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "channel_links_channel_chat_id_idx" ON "channel_links"("channel_chat_id");

-- CreateIndex
CREATE UNIQUE INDEX "channel_links_owner_chat_id_channel_chat_id_key" ON "channel_links"("owner_chat_id", "channel_chat_id");

-- AddForeignKey
ALTER TABLE "channel_links" ADD CONSTRAINT "channel_links_owner_chat_id_fkey" FOREIGN KEY ("owner_chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "channel_links" ADD CONSTRAINT "channel_links_channel_chat_id_fkey" FOREIGN KEY ("channel_chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE CASCADE;
