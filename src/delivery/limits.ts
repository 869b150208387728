import { newSlot, slotIdle, slotWait, takeSlot, type Limit, type Priority, type Slot } from './limit-slots.js';

export type { BucketLimit, Limit, Priority, WindowLimit } from './limit-slots.js';

/**
 * Send-rate limits of the chat platforms: one bucket per platform and one per (platform, chat), checked
 * together and taken together, so a chat that must wait never spends a platform token. Pure: the caller
 * passes the time in; there are no timers, and idle buckets are swept on the caller's clock.
 *
 * Every send draws from here — outbox rows in the dispatcher, and command replies in the fronts:
 *
 *   // in a front, before answering a command
 *   for (;;) {
 *     const waitMs = limiter.reserve('telegram', chatId, kind, now(), { priority: 'reply' });
 *     if (waitMs === 0) break;
 *     await sleep(waitMs, signal);
 *   }
 *   await api.sendMessage(chatId, text);
 *
 * The reply lane: a reply the platform limits refuse holds the platform's next token. Until it comes
 * back for it (or REPLY_GRACE_MS after it was due, if it never does), alerts are refused, so a user who
 * just typed /price gets an answer within about one spacing interval even while a burst of alerts is
 * draining, and alerts lose only the tokens replies actually use, not a share kept free in advance.
 * Replies and alerts draw from the same buckets, so together they never exceed a limit.
 */

export type Platform = 'telegram' | 'discord' | 'console';
export type ChatKind = 'private' | 'group' | 'channel';

export interface PlatformPolicy {
  /** shared by every chat of the platform; empty → unlimited */
  global: readonly Limit[];
  /** per chat, by the chat's kind; empty → unlimited */
  chat: Readonly<Record<ChatKind, readonly Limit[]>>;
  /** longest message text the platform takes, in UTF-16 code units (what String.length counts) */
  maxChars: number;
}

const perChatTelegram: Limit = { type: 'bucket', burst: 3, intervalMs: 1_000, replyHeadroom: 1 };
const telegramGroup: readonly Limit[] = [perChatTelegram, { type: 'window', limit: 20, windowMs: 60_000, replyHeadroom: 2 }];
// Discord's message-create bucket per channel reports 5 per 5 s; pacing here keeps discord.js from
// queueing inside send(), where the wait would hold the outbox rows out of the dispatcher's sight.
const discordChannel: readonly Limit[] = [{ type: 'window', limit: 5, windowMs: 5_000, replyHeadroom: 1 }];

/**
 * Telegram's 30/s counts arrivals at Telegram, not our grants, and jitter moves arrivals apart and
 * together: the network's, and on a loaded machine the event loop's between a grant and its request.
 * The window of 30 per TELEGRAM_WINDOW_MS is the hard bound: the arrivals of any second were granted
 * within 1000 ms + the jitter, so with up to 35 ms of jitter no second at Telegram holds more than 30.
 * (30 ms was not enough: the 10 000-chat benchmark once saw a grant arrive 31 ms late and 31 messages in
 * a second.) Alone, the window would hand out a whole second's worth at once at its edge: a reply
 * arriving just after would wait a second, and jitter could put two edges' worth into one of Telegram's
 * seconds. The spacing hands the tokens out one by one at the window's own pace, 1035/30 = 34.5 ms apart
 * (29.0/s, 96.6 % of 30/s), so the next token is never much more than an interval away and a waiting
 * reply gets it within ~40 ms. It has no burst: the window would repeat a burst every window as a
 * cluster and then a gap as long as the cluster saved (burst 2 at 34 ms: a 78 ms gap, a reply in it
 * waiting twice as long). lateMs lets a caller whose timer fired a few ms late take its next turn that
 * much early, so the usual 1–2 ms of timer lateness costs no rate.
 */
export const TELEGRAM_WINDOW_MS = 1_035;
const telegramSpacing: Limit = { type: 'bucket', burst: 1, intervalMs: TELEGRAM_WINDOW_MS / 30, replyHeadroom: 0, lateMs: 5 };

/**
 * Telegram: 30 messages/s overall, about 1/s per chat with short bursts, 20/min per group or channel
 * (core.telegram.org/bots/faq). Discord: 50 requests/s overall. The terminal has no limits.
 */
export const DEFAULT_POLICIES: Readonly<Record<Platform, PlatformPolicy>> = {
  telegram: {
    global: [{ type: 'window', limit: 30, windowMs: TELEGRAM_WINDOW_MS, replyHeadroom: 0 }, telegramSpacing],
    chat: { private: [perChatTelegram], group: telegramGroup, channel: telegramGroup },
    maxChars: 4096,
  },
  discord: {
    // no share kept for replies: the reply hold covers any, and Discord's interaction answers (our
    // command replies there) are outside its global limit anyway
    global: [{ type: 'window', limit: 50, windowMs: 1_000, replyHeadroom: 0 }],
    chat: { private: discordChannel, group: discordChannel, channel: discordChannel },
    maxChars: 2000,
  },
  console: { global: [], chat: { private: [], group: [], channel: [] }, maxChars: Number.POSITIVE_INFINITY },
};

export interface RateLimiterOptions {
  policies?: Partial<Record<Platform, PlatformPolicy>>;
  /** how often (on the caller's clock) idle chat buckets are dropped; default 60 s */
  sweepEveryMs?: number;
}

export interface ReserveOptions {
  /**
   * 'reply' may use the headroom a chat's limits keep free of alerts, and once refused by the platform's
   * limits holds the platform's next token for itself; default 'alert'
   */
  priority?: Priority;
}

interface Entry {
  /** the kind whose limits `slots` follow; undefined for an entry made only by a pause */
  kind: ChatKind | undefined;
  slots: Slot[];
  pausedUntil: number;
}

/** A platform's limits with the replies waiting for its next token (see reserve). */
interface PlatformEntry extends Entry {
  /** when each reply refused by the platform was told to come back, ascending */
  replyDue: number[];
}

/**
 * How long past its due time a waiting reply still holds the platform's next token: a timer fires a
 * little late on a busy machine. Below one Telegram spacing interval, so alerts asking again at the
 * hold's end normally still wait for the spacing anyway and lose nothing; a reply that never comes back
 * (its front stopped) costs alerts at most this much.
 */
export const REPLY_GRACE_MS = 25;

/** this many different chats refused with a 429 within FLOOD_SPAN_MS: the platform is throttling the bot */
export const FLOOD_CHATS = 3;
export const FLOOD_SPAN_MS = 1_000;

export class RateLimiter {
  private readonly policies: Readonly<Record<Platform, PlatformPolicy>>;
  private readonly sweepEveryMs: number;
  private readonly platforms = new Map<Platform, PlatformEntry>();
  private readonly chats = new Map<string, Entry>();
  private lastSweep = Number.NEGATIVE_INFINITY;
  /** the latest 429 of each chat refused within FLOOD_SPAN_MS, per platform */
  private readonly refusals = new Map<Platform, Array<{ chatKey: string; at: number; untilMs: number }>>();

  constructor(opts: RateLimiterOptions = {}) {
    this.policies = { ...DEFAULT_POLICIES, ...opts.policies };
    this.sweepEveryMs = opts.sweepEveryMs ?? 60_000;
  }

  policy(platform: Platform): PlatformPolicy {
    return this.policies[platform];
  }

  /**
   * Takes a token for one message to `chatKey` if the platform and the chat both have one now and
   * returns 0; otherwise takes nothing and returns how long to wait before asking again.
   */
  reserve(platform: Platform, chatKey: string, kind: ChatKind, now: number, opts: ReserveOptions = {}): number {
    this.maybeSweep(now);
    const priority = opts.priority ?? 'alert';
    const global = this.platformEntry(platform);
    const chat = this.chatEntry(platform, chatKey, kind);
    const platformWaitMs = globalWait(global, now, priority);
    const chatWaitMs = chat ? entryWait(chat.entry, now, priority) : 0;
    if (platformWaitMs > 0 || chatWaitMs > 0) {
      // The platform's next token is the reply's: alerts ask again every few ms and would otherwise take
      // each token as it frees, leaving the user waiting behind the whole burst. Not when the reply's own
      // chat is what keeps it: the platform's tokens until then are of no use to it.
      if (priority === 'reply' && platformWaitMs >= chatWaitMs) insertSorted(global.replyDue, now + platformWaitMs);
      return Math.max(platformWaitMs, chatWaitMs);
    }
    take(global, now);
    if (priority === 'reply') {
      // Only a reply that was told to come back by now can be this one; a later due is another reply's.
      const i = global.replyDue.findIndex((due) => due <= now);
      if (i >= 0) global.replyDue.splice(i, 1);
    }
    if (chat) {
      take(chat.entry, now);
      // stored only once it holds a grant: a flood of refused requests must not fill memory
      if (!chat.stored) this.chats.set(chatId(platform, chatKey), chat.entry);
    }
    return 0;
  }

  /**
   * How long before the chat itself (its own limits and pauses, not the platform's) has a token; takes
   * nothing. The dispatcher holds a chat's rows through a short platform wait but gives them back for this one.
   */
  chatWait(platform: Platform, chatKey: string, kind: ChatKind, now: number, priority: Priority = 'alert'): number {
    const chat = this.chatEntry(platform, chatKey, kind);
    return chat ? entryWait(chat.entry, now, priority) : 0;
  }

  /**
   * How long before the platform as a whole has a token for `priority` (for an alert, also while a reply
   * holds the next one); takes nothing.
   */
  platformWait(platform: Platform, now: number, priority: Priority = 'alert'): number {
    return globalWait(this.platformEntry(platform), now, priority);
  }

  /**
   * Nothing goes to the chat (or, with null, to the whole platform) before `untilMs` — a 429's
   * retry_after, exactly. A pause only ever extends: an earlier, longer one still stands.
   */
  pause(platform: Platform, chatKey: string | null, untilMs: number): void {
    let entry: Entry;
    if (chatKey === null) entry = this.platformEntry(platform);
    else {
      const key = chatId(platform, chatKey);
      entry = this.chats.get(key) ?? { kind: undefined, slots: [], pausedUntil: 0 };
      this.chats.set(key, entry);
    }
    entry.pausedUntil = Math.max(entry.pausedUntil, untilMs);
  }

  /**
   * A send to one chat was refused with a 429 until `untilMs`: the chat pauses until then. The Bot API
   * names no scope in its 429s, so refusals of several different chats close together mean the bot as a
   * whole is being throttled; the whole platform then waits for the longest of their retry_afters, rather
   * than spending the flood on other chats' sends, each refused in turn. Returns what was paused.
   */
  refused(platform: Platform, chatKey: string, now: number, untilMs: number): 'chat' | 'platform' {
    this.pause(platform, chatKey, untilMs);
    const recent = (this.refusals.get(platform) ?? []).filter((r) => now - r.at < FLOOD_SPAN_MS && r.chatKey !== chatKey);
    recent.push({ chatKey, at: now, untilMs });
    this.refusals.set(platform, recent);
    if (recent.length < FLOOD_CHATS) return 'chat';
    this.pause(platform, null, Math.max(...recent.map((r) => r.untilMs)));
    this.refusals.delete(platform);
    return 'platform';
  }

  /**
   * Drops the chat buckets that are back to full and not paused. Such a bucket behaves exactly like a
   * new one, so sweeping never changes a decision; it only keeps memory proportional to busy chats.
   */
  sweep(now: number): number {
    this.lastSweep = now;
    let dropped = 0;
    for (const [key, entry] of this.chats) {
      if (entry.pausedUntil > now || !entry.slots.every((slot) => slotIdle(slot, now))) continue;
      this.chats.delete(key);
      dropped++;
    }
    return dropped;
  }

  /** chat buckets held in memory (platform buckets are not counted) */
  size(): number {
    return this.chats.size;
  }

  private maybeSweep(now: number): void {
    if (now - this.lastSweep >= this.sweepEveryMs) this.sweep(now);
  }

  private platformEntry(platform: Platform): PlatformEntry {
    let entry = this.platforms.get(platform);
    if (!entry) {
      entry = { kind: undefined, slots: this.policies[platform].global.map(newSlot), pausedUntil: 0, replyDue: [] };
      this.platforms.set(platform, entry);
    }
    return entry;
  }

  /** undefined when the chat has neither limits nor a pause: nothing to check or keep for it */
  private chatEntry(platform: Platform, chatKey: string, kind: ChatKind): { entry: Entry; stored: boolean } | undefined {
    const limits = this.policies[platform].chat[kind];
    const entry = this.chats.get(chatId(platform, chatKey));
    if (!entry) return limits.length > 0 ? { entry: { kind, slots: limits.map(newSlot), pausedUntil: 0 }, stored: false } : undefined;
    if (entry.kind !== kind) {
      // A kind change is rare (Telegram gives a migrated group a new id); start the new kind's limits
      // fresh but keep a pause, which the platform imposed on the chat whatever its kind.
      entry.kind = kind;
      entry.slots = limits.map(newSlot);
    }
    return { entry, stored: true };
  }
}

function chatId(platform: Platform, chatKey: string): string {
  return `${platform}\u0000${chatKey}`;
}

function entryWait(entry: Entry, now: number, priority: Priority): number {
  let waitMs = Math.max(0, entry.pausedUntil - now);
  for (const slot of entry.slots) waitMs = Math.max(waitMs, slotWait(slot, now, priority));
  return waitMs;
}

/** entryWait of a platform; an alert also waits while a refused reply may still come back for its token */
function globalWait(entry: PlatformEntry, now: number, priority: Priority): number {
  const due = entry.replyDue;
  // a reply that has not come back within the grace is not coming (its wait was aborted)
  while (due.length > 0 && due[0]! + REPLY_GRACE_MS <= now) due.shift();
  const waitMs = entryWait(entry, now, priority);
  if (priority === 'reply' || due.length === 0) return waitMs;
  return Math.max(waitMs, due[due.length - 1]! + REPLY_GRACE_MS - now);
}

function insertSorted(list: number[], value: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > value) i--;
  list.splice(i, 0, value);
}

function take(entry: Entry, now: number): void {
  for (const slot of entry.slots) takeSlot(slot, now);
}
