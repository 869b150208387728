import type { Chat, ChatKind, Platform } from '../generated/prisma/client.js';
import type { Db } from './types.js';

export interface ChatRefInput {
  platform: Platform;
  /** the platform's own id of the chat, as text (Telegram ids exceed 2^31) */
  externalId: string;
  kind: ChatKind;
  /** left unchanged when omitted: not every update a platform sends carries the title */
  title?: string;
}

/**
 * Returns the chat row for a platform chat, creating it on first contact. A chat that was deactivated
 * (bot removed or blocked) is active again as soon as it talks to us. One statement (INSERT … ON CONFLICT),
 * so two concurrent first messages from the same chat cannot collide on the unique key.
 */
export function upsertChat(db: Db, chat: ChatRefInput): Promise<Chat> {
  const { platform, externalId, kind, title } = chat;
  return db.chat.upsert({
    where: { platform_externalId: { platform, externalId } },
    create: { platform, externalId, kind, title: title ?? null },
    update: { kind, active: true, ...(title !== undefined ? { title } : {}) },
  });
}
