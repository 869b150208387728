import { UserInputError } from '../../errors.js';
import { msg, type Text } from '../../i18n/index.js';
import type { ChannelRefusal, ChatRef, Command, CommandContext, CommandServices } from './types.js';

/**
 * Channels linked from a private chat: `/channel add|list|remove @name`, and the `to @name` suffix that
 * points /alert, /watch and friends at a linked channel instead of this chat. The platform decides who may
 * post where (CommandContext.checkChannel); the database only remembers which private chat linked what.
 */

const EXAMPLE_ADD = '/channel add @yourchannel';
/** Telegram usernames: 5–32 characters, a letter first, then letters, digits and underscores */
const USERNAME = /^[A-Za-z][A-Za-z0-9_]{3,31}$/;
/** "to @name" as a word pair; the handle is checked after, so "to @" or "to x" get a helpful error */
const TO_TARGET = /(^|\s)to\s+(\S+)(?=\s|$)/gi;

/** "@Name", "name", "t.me/name" or "https://t.me/name" → "@Name"; null when it is no username. */
export function parseHandle(input: string, opts: { requireAt?: boolean } = {}): string | null {
  const link = /^(?:https?:\/\/)?(?:t\.me|telegram\.me)\/([^/?#\s]+)\/?$/i.exec(input);
  const name = link ? link[1]! : input.startsWith('@') ? input.slice(1) : opts.requireAt ? null : input;
  return name !== null && USERNAME.test(name) ? `@${name}` : null;
}

/**
 * Splits a "to @name" off command arguments, wherever it stands among the options, leaving the rest as
 * typed. A note ("-- …" or "— …") is the user's free text and is never searched: "-- sell to @bob" stays a
 * note. Throws UserInputError for a second target or a "to" without a @username.
 */
export function takeTarget(args: string, example: string): { rest: string; target?: string } {
  const trimmed = args.trim();
  const cut = trimmed.search(/--|—/);
  const head = cut < 0 ? trimmed : trimmed.slice(0, cut);
  const note = cut < 0 ? '' : trimmed.slice(cut);
  const found = [...head.matchAll(TO_TARGET)];
  if (found.length === 0) return { rest: trimmed };
  if (found.length > 1) throw new UserInputError(msg('channel.oneTarget'), `${example} to @yourchannel`);
  const m = found[0]!;
  const target = parseHandle(m[2]!, { requireAt: true });
  if (!target) throw new UserInputError(msg('channel.badTarget', { input: m[2]!.slice(0, 40) }), `${example} to @yourchannel`);
  const start = m.index + m[1]!.length;
  const rest = `${head.slice(0, start)} ${head.slice(m.index + m[0].length)}`.replace(/\s+/g, ' ').trim();
  return { rest: note ? `${rest} ${note}`.trim() : rest, target };
}

/** Why the platform refused a channel, and how to fix it. */
export function refusalMessage(reason: ChannelRefusal, handle: string): Text {
  const key = REFUSAL_KEY[reason];
  return msg(key, { channel: handle });
}

const REFUSAL_KEY = {
  not_found: 'channel.notFound',
  not_channel: 'channel.notChannel',
  user_not_admin: 'channel.userNotAdmin',
  bot_not_admin: 'channel.botNotAdmin',
  bot_cannot_post: 'channel.botCannotPost',
  unreachable: 'channel.unreachable',
} as const satisfies Record<ChannelRefusal, string>;

function channelsOf(ctx: CommandContext) {
  if (!ctx.checkChannel) throw new UserInputError(msg('channel.telegramOnly'));
  const alerts = ctx.services.alerts;
  const { linkChannel, unlinkChannel, channels, linkedChannel, channelOfRule } = alerts ?? {};
  if (!alerts || !linkChannel || !unlinkChannel || !channels || !linkedChannel || !channelOfRule) {
    throw new UserInputError(msg('starting.channels'));
  }
  return {
    check: ctx.checkChannel,
    link: linkChannel.bind(alerts), unlink: unlinkChannel.bind(alerts), list: channels.bind(alerts),
    linked: linkedChannel.bind(alerts), ofRule: channelOfRule.bind(alerts),
  };
}

function privateOnly(chat: ChatRef): string {
  if (chat.kind !== 'private' || chat.userId === undefined) {
    throw new UserInputError(msg('channel.privateOnly'));
  }
  return chat.userId;
}

/**
 * The chat a "to @name" command acts on: the linked channel, after asking the platform again (a cached
 * answer may be reused for a minute) whether this user is still its admin and the bot may still post.
 */
export async function channelTarget(ctx: CommandContext, handle: string): Promise<ChatRef> {
  const userId = privateOnly(ctx.chat);
  const channels = channelsOf(ctx);
  const linked = await channels.linked(ctx.chat, handle);
  if (!linked) throw new UserInputError(msg('channel.notLinked', { channel: handle }), `/channel add ${handle}`);
  const check = await channels.check(linked.handle, userId);
  if (!check.ok) throw new UserInputError(refusalMessage(check.reason, linked.handle));
  if (check.chatId !== linked.chatId) {
    throw new UserInputError(msg('channel.replaced', { channel: linked.handle }));
  }
  return { platform: ctx.chat.platform, chatId: linked.chatId, kind: 'channel', userId, title: check.handle };
}

/** The chat a rule command acts on: this one, or for a "to @name" (split off by takeTarget) the linked channel. */
export async function targetChat(ctx: CommandContext, target: string | undefined): Promise<{ chat: ChatRef; channel?: string }> {
  if (!target) return { chat: ctx.chat };
  const chat = await channelTarget(ctx, target);
  return { chat, channel: chat.title ?? target };
}

/** For /delete <id> in a private chat: the linked channel the rule belongs to, checked as for "to @name". */
export async function channelOfRule(ctx: CommandContext, ruleId: number): Promise<{ chat: ChatRef; channel: string } | null> {
  if (ctx.chat.kind !== 'private' || !ctx.checkChannel || !ctx.services.alerts?.channelOfRule) return null;
  const found = await ctx.services.alerts.channelOfRule(ctx.chat, ruleId);
  if (!found) return null;
  const chat = await channelTarget(ctx, found.handle);
  return { chat, channel: chat.title ?? found.handle };
}

export const channel: Command = {
  name: 'channel',
  aliases: ['channels'],
  usage: 'cmd.channel.usage',
  summary: 'cmd.channel.summary',
  examples: [EXAMPLE_ADD, '/alert SOL/USDT > 200 to @yourchannel', '/channel list', '/channel remove @yourchannel'],
  async run(ctx) {
    const userId = privateOnly(ctx.chat);
    const channels = channelsOf(ctx);
    const [verb = 'list', name, ...extra] = ctx.args.trim().split(/\s+/).filter(Boolean);
    const action = verb.toLowerCase();
    if (['list', 'ls'].includes(action)) {
      const rows = await channels.list(ctx.chat);
      return { kind: 'channel_list', channels: rows.map((r) => ({ handle: r.channel.title ?? r.channel.externalId, alerts: r.alerts, watches: r.watches, linkedAt: r.linkedAt })) };
    }
    const adding = ['add', 'link'].includes(action);
    if (!adding && !['remove', 'rm', 'delete', 'del', 'unlink'].includes(action)) {
      throw new UserInputError(msg('channel.badVerb', { verb: verb.slice(0, 20) }), EXAMPLE_ADD);
    }
    const handle = name === undefined ? null : parseHandle(name);
    if (!handle || extra.length > 0) throw new UserInputError(msg('channel.nameIt'), `/channel ${adding ? 'add' : 'remove'} @yourchannel`);
    if (!adding) {
      const gone = await channels.unlink(ctx.chat, handle);
      if (!gone) throw new UserInputError(msg('channel.notLinkedList', { channel: handle }), '/channel list');
      return { kind: 'channel_unlinked', channel: gone.handle, deleted: gone.remaining > 0 ? null : { alerts: gone.alerts, watches: gone.watches } };
    }
    // linking asks afresh: whoever just fixed the bot's rights should not be told about the old ones
    const check = await channels.check(handle, userId, { fresh: true });
    if (!check.ok) throw new UserInputError(refusalMessage(check.reason, handle));
    const { already } = await channels.link(ctx.chat, { chatId: check.chatId, handle: check.handle });
    return { kind: 'channel_linked', channel: check.handle, already };
  },
};
