import type { AlertRule, Chat, ChatKind, Platform } from '../generated/prisma/client.js';
import type { Db } from './types.js';
import { resolveLanguage, type Lang } from '../i18n/index.js';

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

export interface MigratedChat {
  /** the chat's row, now under the new id (the row that was under the old id: its rules, watches and outbox came along) */
  chat: Chat;
  /** the bot had already stored the new id as a chat of its own: that row was folded into `chat` and deleted */
  merged: { id: number; droppedWatchIds: number[] } | null;
}

/**
 * A Telegram group upgraded to a supergroup lives on under a new id: the chat row takes the new id, so
 * its rules, watches, webhook and waiting outbox rows follow without being touched. Null when no row has
 * the old id (never stored, or moved already: Telegram reports the upgrade in both chats, and the
 * dispatcher may learn it from a refused send too).
 *
 * If the new id already has a row (someone used the bot in the supergroup before the upgrade reached
 * us), the old row is kept, since its id is what rules and claimed outbox rows point at, and the newer
 * one is folded into it: its rules, watches, outbox rows and webhook move over; where both have a watch
 * of the same pair, or both a webhook, or both a setting, the newer chat's wins, being what the group
 * set last. Run it in a transaction.
 */
export async function migrateChat(db: Db, move: { platform: Platform; from: string; to: string }): Promise<MigratedChat | null> {
  const { platform, from, to } = move;
  if (from === to) return null;
  const old = await db.chat.findUnique({ where: { platform_externalId: { platform, externalId: from } } });
  if (!old) return null;
  const newer = await db.chat.findUnique({ where: { platform_externalId: { platform, externalId: to } } });
  let merged: MigratedChat['merged'] = null;
  if (newer) {
    const pairKey = (w: { exchange: string; pair: string }): string => `${w.exchange}\u0000${w.pair}`;
    const newerPairs = new Set((await db.watch.findMany({ where: { chatId: newer.id }, select: { exchange: true, pair: true } })).map(pairKey));
    const droppedWatchIds = (await db.watch.findMany({ where: { chatId: old.id }, select: { id: true, exchange: true, pair: true } })).filter((w) => newerPairs.has(pairKey(w))).map((w) => w.id);
    if (droppedWatchIds.length) await db.watch.deleteMany({ where: { id: { in: droppedWatchIds } } });
    await db.watch.updateMany({ where: { chatId: newer.id }, data: { chatId: old.id } });
    await db.alertRule.updateMany({ where: { chatId: newer.id }, data: { chatId: old.id } });
    await db.notification.updateMany({ where: { chatId: newer.id }, data: { chatId: old.id } });
    if (await db.webhook.findUnique({ where: { chatId: newer.id }, select: { id: true } })) {
      await db.webhook.deleteMany({ where: { chatId: old.id } });
      await db.webhook.update({ where: { chatId: newer.id }, data: { chatId: old.id } });
    }
    await db.chat.delete({ where: { id: newer.id } });
    merged = { id: newer.id, droppedWatchIds };
  }
  const chat = await db.chat.update({
    where: { id: old.id },
    data: {
      externalId: to,
      // a supergroup is a 'group' to us (see the Telegram front's toChatRef)
      kind: 'group',
      ...(newer ? { active: old.active || newer.active, title: newer.title ?? old.title, timezone: newer.timezone ?? old.timezone, language: newer.language ?? old.language } : {}),
    },
  });
  return { chat, merged };
}

/** What a chat's messages are worded by, and whether each also goes to its webhook. */
export interface ChatSettings {
  timezone: string | null;
  chatKind: ChatKind;
  /** the chat's /language and its private client's language: the message is worded by them */
  language: string | null;
  userLanguage: string | null;
  webhookActive: boolean;
}

/** The settings of these chats (missing ids are absent from the map): what their messages are worded by. */
export async function readChatSettings(db: Db, chatIds: readonly number[]): Promise<Map<number, ChatSettings>> {
  if (chatIds.length === 0) return new Map();
  const rows = await db.$queryRaw<Array<ChatSettings & { id: number }>>`/* prepared */
    SELECT c.id, c.timezone, c.kind::text AS "chatKind", c.language, c.user_language AS "userLanguage", COALESCE(w.active, false) AS "webhookActive"
      FROM chats c
      LEFT JOIN webhooks w ON w.chat_id = c.id
     WHERE c.id = ANY (ARRAY(SELECT value::int FROM jsonb_array_elements_text(${JSON.stringify([...new Set(chatIds)])}::jsonb)))`;
  return new Map(rows.map(({ id, ...settings }) => [id, settings]));
}

/** The language each chat's messages are worded in: its /language, else (private chats) its client's, else English. */
export async function chatLanguages(db: Db, chatIds: readonly number[]): Promise<Map<number, Lang>> {
  const settings = await readChatSettings(db, chatIds);
  return new Map([...settings].map(([id, s]) => [id, resolveLanguage(s.language, s.chatKind, s.userLanguage)]));
}
