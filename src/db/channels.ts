import type { AlertRule, Chat, Platform, Watch } from '../generated/prisma/client.js';
import { upsertChat, type ChatKey, type ChatRefInput } from './chats.js';
import type { Db } from './types.js';

/**
 * Links between a private chat and the channels it posts to. The channel is a chats row of its own (kind
 * channel, title its @username), which owns the rules and watches posted there; a link only says who may
 * manage them from a private chat. Several chats may link one channel.
 */

const LIVE_RULE = { in: ['active', 'paused'] as Array<AlertRule['state']> };

export interface LinkChannelInput {
  owner: ChatRefInput;
  channel: { platform: Platform; externalId: string; handle: string };
  /** the platform user id of whoever linked it */
  linkedBy: string;
}

/** Links a channel to a private chat (idempotent); `already` when this chat had linked it before. */
export async function linkChannel(db: Db, input: LinkChannelInput): Promise<{ channel: Chat; already: boolean }> {
  const owner = await upsertChat(db, input.owner);
  const { platform, externalId, handle } = input.channel;
  const channel = await upsertChat(db, { platform, externalId, kind: 'channel', title: handle });
  const key = { ownerChatId: owner.id, channelChatId: channel.id };
  const existing = await db.channelLink.findUnique({ where: { ownerChatId_channelChatId: key } });
  // upsert, not create: a double-tapped /channel add lands as a no-op instead of a unique-key error
  if (!existing) await db.channelLink.upsert({ where: { ownerChatId_channelChatId: key }, create: { ...key, linkedBy: input.linkedBy }, update: {} });
  return { channel, already: existing !== null };
}

/** The channel with this @handle (any case) that this chat linked, or null. */
export async function findLinkedChannel(db: Db, owner: ChatKey, handle: string): Promise<Chat | null> {
  const link = await db.channelLink.findFirst({
    where: { owner: { platform: owner.platform, externalId: owner.externalId }, channel: { title: { equals: handle, mode: 'insensitive' } } },
    include: { channel: true },
  });
  return link?.channel ?? null;
}

export interface LinkedChannelRow {
  channel: Chat;
  linkedAt: Date;
  /** live (active or paused) rules */
  alerts: number;
  watches: number;
}

export async function listLinkedChannels(db: Db, owner: ChatKey): Promise<LinkedChannelRow[]> {
  const links = await db.channelLink.findMany({
    where: { owner: { platform: owner.platform, externalId: owner.externalId } },
    orderBy: { id: 'asc' },
    include: { channel: { include: { _count: { select: { rules: { where: { state: LIVE_RULE } }, watches: true } } } } },
  });
  return links.map(({ channel: { _count, ...channel }, createdAt }) => ({ channel, linkedAt: createdAt, alerts: _count.rules, watches: _count.watches }));
}

/** The linked channel a live rule belongs to, when this chat links it; null otherwise (never another chat's). */
export async function channelOfRule(db: Db, owner: ChatKey, ruleId: number): Promise<Chat | null> {
  const rule = await db.alertRule.findFirst({
    where: { id: ruleId, state: LIVE_RULE, chat: { kind: 'channel', channelOwners: { some: { owner: { platform: owner.platform, externalId: owner.externalId } } } } },
    select: { chat: true },
  });
  return rule?.chat ?? null;
}

export interface UnlinkedChannel {
  channel: Chat;
  /** chats that still link the channel */
  remaining: number;
  /** with the last link: the channel's live rules, now deleted, and its watches, now removed */
  rules: AlertRule[];
  watches: Watch[];
}

/**
 * Removes this chat's link to the channel. With the last link the channel's rules are deleted and its
 * watches removed: nobody could manage them from a private chat any more, and a channel nobody minds
 * should not keep posting. Null when this chat had not linked it. Run it in a transaction.
 */
export async function unlinkChannel(db: Db, owner: ChatKey, handle: string): Promise<UnlinkedChannel | null> {
  const channel = await findLinkedChannel(db, owner, handle);
  if (!channel) return null;
  // Two last links removed at once must not both see the other still there and leave the rules orphaned.
  await db.$queryRaw`SELECT id FROM chats WHERE id = ${channel.id} FOR UPDATE`;
  await db.channelLink.deleteMany({ where: { channelChatId: channel.id, owner: { platform: owner.platform, externalId: owner.externalId } } });
  const remaining = await db.channelLink.count({ where: { channelChatId: channel.id } });
  if (remaining > 0) return { channel, remaining, rules: [], watches: [] };
  const rules = await db.alertRule.updateManyAndReturn({ where: { chatId: channel.id, state: LIVE_RULE }, data: { state: 'deleted', snoozedUntil: null } });
  const watches = await db.watch.findMany({ where: { chatId: channel.id } });
  await db.watch.deleteMany({ where: { chatId: channel.id } });
  return { channel, remaining, rules, watches };
}
