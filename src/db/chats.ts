import type { AlertRule, Chat, ChatKind, Platform } from '../generated/prisma/client.js';
import type { Db } from './types.js';

export interface ChatRefInput {
  platform: Platform;
  /** the platform's own id of the chat, as text (Telegram ids exceed 2^31) */
  externalId: string;
  kind: ChatKind;
  /** left unchanged when omitted: not every update a platform sends carries the title */
  title?: string;
  /** a private chat's user's client language (Telegram language_code); left unchanged when omitted */
  userLanguage?: string;
}

/**
 * Returns the chat row for a platform chat, creating it on first contact. A chat that was deactivated
 * (bot removed or blocked) is active again as soon as it talks to us. One statement (INSERT … ON CONFLICT),
 * so two concurrent first messages from the same chat cannot collide on the unique key.
 */
export function upsertChat(db: Db, chat: ChatRefInput): Promise<Chat> {
  const { platform, externalId, kind, title, userLanguage } = chat;
  return db.chat.upsert({
    where: { platform_externalId: { platform, externalId } },
    create: { platform, externalId, kind, title: title ?? null, userLanguage: userLanguage ?? null },
    update: { kind, active: true, ...(title !== undefined ? { title } : {}), ...(userLanguage !== undefined ? { userLanguage } : {}) },
  });
}

export type ChatKey = Pick<ChatRefInput, 'platform' | 'externalId'>;

/**
 * The bot was removed from the chat or blocked there: the chat stops receiving and its live rules are
 * paused (kept, not deleted, so re-adding the bot brings them back). Returns the chat, or null when the
 * bot never stored it. Run it in a transaction: the two writes belong together.
 */
export async function deactivateChat(db: Db, key: ChatKey): Promise<Chat | null> {
  const chat = await db.chat.findUnique({ where: { platform_externalId: key } });
  if (!chat) return null;
  await db.chat.update({ where: { id: chat.id }, data: { active: false } });
  await db.alertRule.updateMany({ where: { chatId: chat.id, state: 'active' }, data: { state: 'paused' } });
  return chat;
}

export interface ReactivatedChat {
  chat: Chat;
  /** the chat had been marked unreachable (its watches are out of the engine) */
  wasInactive: boolean;
  /** rules that were paused and are active again; ones that expired meanwhile are marked expired instead */
  resumed: AlertRule[];
}

/**
 * The chat can be reached again (bot re-added or unblocked, or someone in it spoke to us). Paused rules
 * are resumed whether or not the chat was still flagged inactive: a chat re-activated by upsertChat
 * (a new /alert) would otherwise keep its old rules paused for ever. Null for a chat never stored.
 * Run it in a transaction.
 */
export async function reactivateChat(db: Db, key: ChatKey, now: Date): Promise<ReactivatedChat | null> {
  const chat = await db.chat.findUnique({ where: { platform_externalId: key } });
  if (!chat) return null;
  const paused = await db.alertRule.count({ where: { chatId: chat.id, state: 'paused' } });
  if (chat.active && paused === 0) return { chat, wasInactive: false, resumed: [] };
  if (!chat.active) await db.chat.update({ where: { id: chat.id }, data: { active: true } });
  if (paused === 0) return { chat, wasInactive: !chat.active, resumed: [] };
  await db.alertRule.updateMany({ where: { chatId: chat.id, state: 'paused', expiresAt: { lte: now } }, data: { state: 'expired' } });
  const resumed = await db.alertRule.updateManyAndReturn({
    where: { chatId: chat.id, state: 'paused', OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    data: { state: 'active' },
  });
  return { chat, wasInactive: !chat.active, resumed: resumed.sort((a, b) => a.id - b.id) };
}
