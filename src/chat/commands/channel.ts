import { UserInputError } from '../../errors.js';
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
  if (found.length > 1) throw new UserInputError('Name one channel: a single "to @name".', `${example} to @yourchannel`);
  const m = found[0]!;
  const target = parseHandle(m[2]!, { requireAt: true });
  if (!target) throw new UserInputError(`"to" takes a channel's @username, e.g. to @yourchannel; "${m[2]!.slice(0, 40)}" is not one.`, `${example} to @yourchannel`);
  const start = m.index + m[1]!.length;
  const rest = `${head.slice(0, start)} ${head.slice(m.index + m[0].length)}`.replace(/\s+/g, ' ').trim();
  return { rest: note ? `${rest} ${note}`.trim() : rest, target };
}

/** Why the platform refused a channel, and how to fix it. */
export function refusalMessage(reason: ChannelRefusal, handle: string): string {
  switch (reason) {
    case 'not_found':
      return `I can't find ${handle}. Check the spelling: it is the channel's public @username.`;
    case 'not_channel':
      return `${handle} is not a channel. For a group, add me to it and send /alert there.`;
    case 'user_not_admin':
      return `You are not an admin of ${handle}, so you can't post alerts there.`;
    case 'bot_not_admin':
      return `I'm not an admin of ${handle}. In the channel's settings, add me under Administrators with "Post messages" allowed, then try again.`;
    case 'bot_cannot_post':
      return `I'm an admin of ${handle} but may not post there. Allow "Post messages" for me in the channel's administrator settings, then try again.`;
    case 'unreachable':
      return `I couldn't check ${handle} with Telegram right now. Try again in a minute.`;
  }
}

function channelsOf(ctx: CommandContext) {
  if (!ctx.checkChannel) throw new UserInputError('Posting to channels is a Telegram feature: link a channel from a private chat with the bot on Telegram.');
  const alerts = ctx.services.alerts;
  const { linkChannel, unlinkChannel, channels, linkedChannel, channelOfRule } = alerts ?? {};
  if (!alerts || !linkChannel || !unlinkChannel || !channels || !linkedChannel || !channelOfRule) {
    throw new UserInputError('Channels are still starting up (the database is opening). Try again in a few seconds.');
  }
  return {
    check: ctx.checkChannel,
    link: linkChannel.bind(alerts), unlink: unlinkChannel.bind(alerts), list: channels.bind(alerts),
    linked: linkedChannel.bind(alerts), ofRule: channelOfRule.bind(alerts),
  };
}

function privateOnly(chat: ChatRef): string {
  if (chat.kind !== 'private' || chat.userId === undefined) {
    throw new UserInputError('Channels are linked and posted to from a private chat with me: open one and send /channel add @yourchannel.');
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
  if (!linked) throw new UserInputError(`${handle} isn't linked to this chat. Link it first with /channel add ${handle}.`, `/channel add ${handle}`);
  const check = await channels.check(linked.handle, userId);
  if (!check.ok) throw new UserInputError(refusalMessage(check.reason, linked.handle));
  if (check.chatId !== linked.chatId) {
    throw new UserInputError(`${linked.handle} is now a different channel from the one you linked. Unlink it with /channel remove ${linked.handle} and link it again.`);
  }
  return { platform: ctx.chat.platform, chatId: linked.chatId, kind: 'channel', userId, title: check.handle };
}

/**
 * The chat a rule command acts on: this one, or with "to @name" the linked channel. Returns the
 * arguments without the target.
 */
export async function resolveTarget(ctx: CommandContext, example: string): Promise<{ chat: ChatRef; rest: string; channel?: string }> {
  const { rest, target } = takeTarget(ctx.args, example);
  if (!target) return { chat: ctx.chat, rest };
  const chat = await channelTarget(ctx, target);
  return { chat, rest, channel: chat.title ?? target };
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
  usage: '/channel add|remove @name | list',
  summary: 'link a Telegram channel you admin, then post alerts there with "to @name"',
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
      throw new UserInputError(`/channel takes add, remove or list, not "${verb.slice(0, 20)}".`, EXAMPLE_ADD);
    }
    const handle = name === undefined ? null : parseHandle(name);
    if (!handle || extra.length > 0) throw new UserInputError("Name the channel by its @username, one at a time.", `/channel ${adding ? 'add' : 'remove'} @yourchannel`);
    if (!adding) {
      const gone = await channels.unlink(ctx.chat, handle);
      if (!gone) throw new UserInputError(`${handle} isn't linked to this chat. /channel list shows the ones that are.`, '/channel list');
      return { kind: 'channel_unlinked', channel: gone.handle, deleted: gone.remaining > 0 ? null : { alerts: gone.alerts, watches: gone.watches } };
    }
    // linking asks afresh: whoever just fixed the bot's rights should not be told about the old ones
    const check = await channels.check(handle, userId, { fresh: true });
    if (!check.ok) throw new UserInputError(refusalMessage(check.reason, handle));
    const { already } = await channels.link(ctx.chat, { chatId: check.chatId, handle: check.handle });
    return { kind: 'channel_linked', channel: check.handle, already };
  },
};
