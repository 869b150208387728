-- AlterTable
ALTER TABLE "chats" ADD COLUMN     "user_language" TEXT;
