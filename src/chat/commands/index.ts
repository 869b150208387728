import type { Logger } from '../../log.js';
import { describeError, FeedError, UserInputError } from '../../errors.js';
import { TimeoutError, withTimeout } from '../../lib/abort.js';
import { editDistance } from '../../market/symbols.js';
import { makeHelp } from './help.js';
import { price } from './price.js';
import { alert, alerts, del } from './alert.js';
import { unwatch, watch, watchlist } from './watch.js';
import { timezone } from './timezone.js';
import { webhook } from './webhook.js';
import { language } from './language.js';
import { channel } from './channel.js';
import { msg, resolveLanguage, type Lang } from '../../i18n/index.js';
import type { ChatRef, CheckChannel, Command, CommandInfo, CommandServices, Reply } from './types.js';

export type { ButtonOutcome, ChannelCheck, ChatRef, CheckChannel, Command, CommandServices, Reply } from './types.js';

/** Telegram allows 4096 characters; nothing a command accepts is anywhere near that. */
const MAX_INPUT = 1_000;

const commands: Command[] = [];
const help = makeHelp(() => commands.map(toInfo));
commands.push(price, alert, alerts, del, watch, unwatch, watchlist, channel, timezone, webhook, language, help);

const byName = new Map<string, Command>();
for (const c of commands) for (const n of [c.name, ...(c.aliases ?? [])]) byName.set(n, c);

export function commandList(): CommandInfo[] {
  return commands.map(toInfo);
}

function toInfo({ name, usage, summary, examples }: Command): CommandInfo {
  return { name, usage, summary, examples };
}

export interface ParsedCommand {
  name: string;
  args: string;
  /** the "@BotName" suffix, if any (groups address one bot among several) */
  mention?: string;
}

/**
 * Zero-width and direction marks (Unicode Cf) and control characters other than line breaks and tabs:
 * text copied from web pages and exchange apps carries them invisibly, so "BTC\u200B/USDT" must read as
 * BTC/USDT rather than fail with an error whose quoted input looks exactly right.
 */
const INVISIBLE = /[\p{Cf}\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/gu;

/** "/price@MaxFlashBot  eth" → { name: 'price', mention: 'MaxFlashBot', args: 'eth' }; null when not a command. */
export function parseCommandLine(text: string): ParsedCommand | null {
  const match = /^\/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+([\s\S]*))?$/.exec(text.replace(INVISIBLE, '').trim());
  if (!match) return null;
  return { name: match[1]!.toLowerCase(), args: (match[3] ?? '').trim(), ...(match[2] ? { mention: match[2] } : {}) };
}

export interface DispatchOptions {
  services: CommandServices;
  log: Logger;
  /** the bot's own username; a command addressed to another bot is ignored (null) */
  botUsername?: string;
  /**
   * Whether the sender may change this group's alerts: the platform knows who its admins are. Consulted
   * only in groups, for commands that mutate; absent means everyone may. Throws UserInputError when the
   * platform could not be asked.
   */
  canManage?: (chat: ChatRef) => Promise<boolean>;
  /** Whether a user may post to a channel through the bot ("to @name", /channel add); absent where there are no channels. */
  checkChannel?: CheckChannel;
}

/**
 * How long a command waits for its chat to be marked reachable: long enough that /alerts right after an
 * unblock shows the rules resumed, short enough that /price never waits on a struggling database.
 */
const REACTIVATE_WAIT_MS = 300;

/** Private chats and channels are managed by whoever can write in them; groups ask the platform. */
export async function mayManage(chat: ChatRef, canManage: DispatchOptions['canManage']): Promise<boolean> {
  return chat.kind !== 'group' || !canManage || canManage(chat);
}

/**
 * The shared command layer: every platform hands over the raw text and gets back a Reply value, or null
 * when the message is not for this bot. Never throws: user mistakes become friendly error replies,
 * anything unexpected is logged and answered with an apology.
 */
export async function dispatchCommand(text: string, chat: ChatRef, opts: DispatchOptions): Promise<Reply | null> {
  if (text.length > MAX_INPUT) return { kind: 'error', text: msg('reply.tooLong', { count: text.length }), example: '/help' };
  const parsed = parseCommandLine(text);
  if (!parsed) return { kind: 'not_a_command' };
  if (parsed.mention && opts.botUsername && parsed.mention.toLowerCase() !== opts.botUsername.toLowerCase()) return null;
  const command = byName.get(parsed.name);
  if (!command) {
    const suggestion = closestCommand(parsed.name);
    return { kind: 'unknown_command', name: parsed.name, ...(suggestion ? { suggestion } : {}) };
  }
  await reactivate(chat, opts);
  try {
    if (command.mutates && !(await mayManage(chat, opts.canManage))) return { kind: 'admins_only', subject: command.mutates };
    return await command.run({ chat, args: parsed.args, services: opts.services, ...(opts.checkChannel ? { checkChannel: opts.checkChannel } : {}) });
  } catch (err) {
    if (err instanceof UserInputError) return { kind: 'error', text: err.text, ...(err.example ? { example: err.example } : {}) };
    if (err instanceof FeedError) {
      opts.log.warn({ err: err.message, exchange: err.exchange, command: parsed.name }, 'command could not reach the exchange');
      return { kind: 'error', text: msg('reply.exchangeDown', { exchange: err.exchange }) };
    }
    opts.log.error({ err, command: parsed.name, platform: chat.platform }, 'command failed');
    return { kind: 'error', text: msg('reply.internal') };
  }
}

/**
 * The language to answer a chat in (see resolveLanguage). A /language reply speaks the language it
 * reports, so a change is confirmed in the new language. Asked after the command ran; a database that
 * is not up yet or does not answer in time leaves the platform's hint, never a failed reply.
 */
export async function replyLanguage(chat: ChatRef, services: CommandServices, reply?: Reply | null): Promise<Lang> {
  if (reply?.kind === 'language') return reply.language;
  let stored: string | null = null;
  const asked = services.alerts?.language?.(chat);
  if (asked) {
    try {
      stored = await withTimeout(asked, LANGUAGE_WAIT_MS, 'reading the chat language');
    } catch {
      asked.catch(() => undefined); // a late failure has nobody to tell; the reply went out in the hinted language
    }
  }
  return resolveLanguage(stored, chat.kind, chat.userLanguage);
}

/** Longer than a healthy read by far; a reply in the hinted language beats a reply that waits on a sick database. */
const LANGUAGE_WAIT_MS = 1_000;

function closestCommand(name: string): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const known of byName.keys()) {
    const d = editDistance(name, known);
    if (!best || d < best.d) best = { name: known, d };
  }
  return best && best.d <= 2 ? byName.get(best.name)!.name : undefined;
}

/**
 * A command for us proves the chat reachable: a user who unblocked the bot gets alerts again without
 * anything else to do. Never fails the command.
 */
async function reactivate(chat: ChatRef, opts: DispatchOptions): Promise<void> {
  const work = opts.services.alerts?.reactivateChat?.(chat.platform, chat.chatId);
  if (!work) return;
  try {
    await withTimeout(work, REACTIVATE_WAIT_MS, 'reactivating the chat');
  } catch (err) {
    if (err instanceof TimeoutError) work.catch((late: unknown) => opts.log.warn({ err: describeError(late), platform: chat.platform }, 'could not reactivate a chat'));
    else opts.log.warn({ err: describeError(err), platform: chat.platform }, 'could not reactivate a chat');
  }
}
