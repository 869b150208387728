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
 * The reply lane: alert traffic may only use part of each bucket (`replyHeadroom` tokens stay free for
 * replies), so a user who just typed /price gets an answer at once even while a burst of alerts is
 * draining. Replies and alerts draw from the same buckets, so together they never exceed a limit.
 */

export type Platform = 'telegram' | 'discord' | 'console';
export type ChatKind = 'private' | 'group' | 'channel';
export type Priority = 'alert' | 'reply';

/**
 * At most `limit` sends in any window of `windowMs` — for limits a platform states as a hard count per
 * window (Telegram's 30/s overall, 20/min per group), where a token bucket refilling at the same rate
 * would let twice the count through a window that straddles a full bucket.
 */
export interface WindowLimit {
  type: 'window';
  limit: number;
  windowMs: number;
  /** of `limit`, how many only replies may use */
  replyHeadroom: number;
}

/** A token bucket: `burst` at once, then one per `intervalMs` — for "about 1/s, short bursts allowed". */
export interface BucketLimit {
  type: 'bucket';
  burst: number;
  intervalMs: number;
  /** of `burst`, how many only replies may use */
  replyHeadroom: number;
}

export type Limit = WindowLimit | BucketLimit;

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
 * Telegram's 30/s counts arrivals at Telegram, not our grants. The window alone grants a whole second's
 * worth at once at its edge, and network jitter then packs two edges' grants into one of Telegram's
 * seconds (the delivery benchmark saw 34 arrivals in a second). Spacing grants ~37 ms apart keeps any
 * 1030 ms — a second plus 30 ms of jitter — to at most burst + 1030/37 = 3 + 27 = 30 grants, replies
 * included; alerts alone get one interval of slack, so a dispatcher that wakes a few ms late still keeps
 * the full rate (1000/37 = 27.0/s, 96.5 % of the 28/s the window leaves for alerts).
 */
const telegramSpacing: Limit = { type: 'bucket', burst: 3, intervalMs: 37, replyHeadroom: 1 };

/**
 * Telegram: 30 messages/s overall, about 1/s per chat with short bursts, 20/min per group or channel
 * (core.telegram.org/bots/faq). Discord: 50 requests/s overall. The terminal has no limits.
 */
export const DEFAULT_POLICIES: Readonly<Record<Platform, PlatformPolicy>> = {
  telegram: {
    global: [{ type: 'window', limit: 30, windowMs: 1_000, replyHeadroom: 2 }, telegramSpacing],
    chat: { private: [perChatTelegram], group: telegramGroup, channel: telegramGroup },
    maxChars: 4096,
  },
  discord: {
    global: [{ type: 'window', limit: 50, windowMs: 1_000, replyHeadroom: 3 }],
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
  /** 'reply' may use the headroom alerts leave free; default 'alert' */
  priority?: Priority;
}

/** A limit with its state: a window keeps its last `limit` grant times (ascending), a bucket its theoretical arrival time. */
type Slot = { limit: WindowLimit; times: number[] } | { limit: BucketLimit; tat: number };

interface Entry {
  /** the kind whose limits `slots` follow; undefined for an entry made only by a pause */
  kind: ChatKind | undefined;
  slots: Slot[];
  pausedUntil: number;
}

/** this many different chats refused with a 429 within FLOOD_SPAN_MS: the platform is throttling the bot */
export const FLOOD_CHATS = 3;
export const FLOOD_SPAN_MS = 1_000;

export class RateLimiter {
  private readonly policies: Readonly<Record<Platform, PlatformPolicy>>;
  private readonly sweepEveryMs: number;
  private readonly platforms = new Map<Platform, Entry>();
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
    const waitMs = Math.max(entryWait(global, now, priority), chat ? entryWait(chat.entry, now, priority) : 0);
    if (waitMs > 0) return waitMs;
    take(global, now);
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

  /** How long before the platform as a whole has a token for `priority`; takes nothing. */
  platformWait(platform: Platform, now: number, priority: Priority = 'alert'): number {
    return entryWait(this.platformEntry(platform), now, priority);
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
      if (entry.pausedUntil > now || !entry.slots.every((slot) => isIdle(slot, now))) continue;
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

  private platformEntry(platform: Platform): Entry {
    let entry = this.platforms.get(platform);
    if (!entry) {
      entry = { kind: undefined, slots: this.policies[platform].global.map(newSlot), pausedUntil: 0 };
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

function newSlot(limit: Limit): Slot {
  return limit.type === 'window' ? { limit, times: [] } : { limit, tat: Number.NEGATIVE_INFINITY };
}

function entryWait(entry: Entry, now: number, priority: Priority): number {
  let waitMs = Math.max(0, entry.pausedUntil - now);
  for (const slot of entry.slots) waitMs = Math.max(waitMs, slotWait(slot, now, priority));
  return waitMs;
}

function slotWait(slot: Slot, now: number, priority: Priority): number {
  const headroom = priority === 'reply' ? 0 : slot.limit.replyHeadroom;
  if ('times' in slot) {
    // The grant `allowed` places back must have left the window for a new one to fit in it.
    const allowed = Math.max(1, slot.limit.limit - headroom);
    const times = slot.times;
    if (times.length < allowed) return 0;
    return Math.max(0, times[times.length - allowed]! + slot.limit.windowMs - now);
  }
  // GCRA form of the token bucket: integer times only, so no rounding can let an extra send through.
  const tolerance = Math.max(0, slot.limit.burst - 1 - headroom) * slot.limit.intervalMs;
  return Math.max(0, slot.tat - tolerance - now);
}

function take(entry: Entry, now: number): void {
  for (const slot of entry.slots) {
    if ('times' in slot) {
      // A clock that stepped back must not break the ascending order the waits rely on; recording the
      // grant later than it happened only makes the next waits longer, never shorter.
      slot.times.push(Math.max(now, slot.times[slot.times.length - 1] ?? now));
      if (slot.times.length > slot.limit.limit) slot.times.shift();
    } else {
      slot.tat = Math.max(slot.tat, now) + slot.limit.intervalMs;
    }
  }
}

function isIdle(slot: Slot, now: number): boolean {
  if ('times' in slot) {
    const last = slot.times[slot.times.length - 1];
    return last === undefined || last + slot.limit.windowMs <= now;
  }
  return slot.tat <= now;
}
