import type { Config } from '../../config.js';
import type { MarketHub } from '../../market/hub.js';
import type { PriceTick } from '../../market/types.js';
import type { AlertService } from '../../alerts/service.js';
import type { RuleCondition, RuleSpec } from '../../alerts/types.js';
import type { Lang, MessageKey, Text } from '../../i18n/index.js';

/** A rule as listed to users: what the store row says, without the database types. */
export interface RuleView {
  id: number;
  exchange: string;
  pair: string;
  /** worded per language when rendered (chat/format.ts describeConditionIn) */
  condition: RuleCondition;
  repeatEverySec?: number;
  expiresAt?: Date;
  note?: string;
  paused: boolean;
}

/** A watchlist entry as shown to users. */
export interface WatchView {
  exchange: string;
  pair: string;
  /** the move, in percent either way, that triggers the next message (canonical decimal) */
  movePct: string;
  /** the price moves are measured from: the last message's, or the price when the pair was added */
  referencePrice?: number;
  /** when that reference was taken */
  since: Date;
}

/** One watch message: the pair moved movePct since `from`. */
export interface WatchMove {
  watchId: number;
  exchange: string;
  pair: string;
  price: number;
  /** the reference the move is measured from */
  from: number;
  /** when the reference was taken, ms since epoch */
  since: number;
  /** tick time, ms since epoch */
  at: number;
  source: PriceTick['source'];
}

export type Platform = 'telegram' | 'discord' | 'console';

/** Who asked, in platform-neutral terms; adapters build it from their update objects. */
export interface ChatRef {
  platform: Platform;
  /** the platform's chat/channel id as text */
  chatId: string;
  kind: 'private' | 'group' | 'channel';
  userId?: string;
  title?: string;
  /** the sender's client language as the platform reports it (Telegram: language_code, e.g. "ru", "en-GB") */
  userLanguage?: string;
}

/** What a command answers: data, rendered to text per platform by chat/format.ts. */
export type Reply =
  | { kind: 'price'; tick: PriceTick; fromRest: boolean; now: number }
  | { kind: 'help'; commands: readonly CommandInfo[]; topic?: CommandInfo }
  | { kind: 'error'; text: Text; example?: string }
  | { kind: 'unknown_command'; name: string; suggestion?: string }
  | { kind: 'not_a_command' }
  // `channel`: the @handle of a linked channel the command acted on ("to @name"), instead of this chat
  | { kind: 'alert_created'; rule: RuleView; spec: RuleSpec; tick: PriceTick; holdsNow: boolean; now: number; channel?: string }
  | { kind: 'alert_list'; rules: readonly RuleView[]; max: number; channel?: string }
  | { kind: 'alerts_deleted'; rules: readonly RuleView[]; all: boolean; channel?: string }
  | { kind: 'watch_added'; watch: WatchView; tick: PriceTick; updated: boolean; previousPct?: string; count: number; max: number; channel?: string }
  | { kind: 'watch_removed'; watch: WatchView; channel?: string }
  | { kind: 'watchlist'; entries: readonly WatchEntry[]; max: number; now: number; channel?: string }
  | { kind: 'channel_linked'; channel: string; already: boolean }
  | { kind: 'channel_list'; channels: readonly ChannelView[] }
  /** deleted: what went with the last link; null when other chats still link the channel and everything stays */
  | { kind: 'channel_unlinked'; channel: string; deleted: { alerts: number; watches: number } | null }
  /** a group member who is not an admin tried to change what the group is alerted about */
  | { kind: 'admins_only'; subject: ManagedSubject }
  | { kind: 'timezone'; timezone: string | null; changed: boolean; now: number }
  /** the reply is rendered in the language it reports (the new one after a change) */
  | { kind: 'language'; language: Lang; changed: boolean }
  /** the only time the secret is shown */
  | { kind: 'webhook_set'; url: string; secret: string }
  | { kind: 'webhook_status'; webhook: WebhookView | null }
  | { kind: 'webhook_removed'; removed: boolean };

/** A chat's webhook as shown to users: never the secret. */
export interface WebhookView {
  url: string;
  active: boolean;
  /** failed deliveries in a row */
  failures: number;
  lastError: string | null;
  createdAt: Date;
}

/** A channel this private chat linked, as listed by /channel. */
export interface ChannelView {
  handle: string;
  alerts: number;
  watches: number;
  linkedAt: Date;
}

/** What the platform says about a channel a user wants to post to (DispatchOptions.checkChannel). */
export type ChannelCheck =
  | { ok: true; chatId: string; handle: string }
  | { ok: false; reason: ChannelRefusal };

export type ChannelRefusal = 'not_found' | 'not_channel' | 'user_not_admin' | 'bot_not_admin' | 'bot_cannot_post' | 'unreachable';

/**
 * Asks the platform whether `userId` may post through the bot to the channel `handle` ("@name"): it must be
 * a channel, the user one of its admins and the bot an admin that may post. Answers may be cached briefly;
 * `fresh` asks anew. Never throws: an unreachable platform is the 'unreachable' refusal.
 */
export type CheckChannel = (handle: string, userId: string, opts?: { fresh?: boolean }) => Promise<ChannelCheck>;

/** What a mutating command changes: the wording of a refusal depends on it. */
export type ManagedSubject = 'alerts' | 'watchlist' | 'settings';

/** What pressing a button did, as data; fronts show it as a short notice (Telegram: the callback answer). */
export type ButtonOutcome =
  | { kind: 'deleted'; rule: RuleView; list?: Extract<Reply, { kind: 'alert_list' }> }
  | { kind: 'rearmed'; ruleId: number; holdsNow: boolean }
  | { kind: 'already_on'; ruleId: number }
  | { kind: 'snoozed'; ruleId: number; until: Date; now: number }
  /** the rule was deleted (or never was this chat's): the button is stale */
  | { kind: 'gone' }
  /** in a channel, where every reader sees the buttons, only its admins may press them */
  | { kind: 'admins_only'; subject: ManagedSubject; where?: 'group' | 'channel' }
  | { kind: 'error'; text: Text }
  /** data this bot does not make, e.g. a button of an older version: acknowledged silently */
  | { kind: 'unknown' };

/** A watchlist line: the watch and its price, when one could be had. */
export interface WatchEntry {
  watch: WatchView;
  tick?: PriceTick;
  /** the price came from a REST call because nothing was cached */
  fromRest: boolean;
}

export interface CommandInfo {
  name: string;
  /** catalogue keys: /help and the platforms' command menus show them in the reader's language */
  usage: MessageKey;
  summary: MessageKey;
  /** commands as typed, the same in every language */
  examples: readonly string[];
}

/** The world a command may touch; narrow on purpose so commands stay testable without I/O. */
export interface CommandServices {
  hub: Pick<MarketHub, 'quote' | 'holdFor' | 'exchanges' | 'latest'>;
  config: Pick<Config, 'defaultQuote' | 'exchanges' | 'maxRulesPerChat'> & Partial<Pick<Config, 'webhookAllowLocal'>>;
  /**
   * undefined until the database is up: alert commands then say so instead of failing. The optional
   * methods serve chat reachability and buttons; commands work without them.
   */
  alerts?: Pick<AlertService, 'create' | 'list' | 'delete' | 'watch' | 'unwatch' | 'watchlist' | 'maxWatchesPerChat'> &
    Partial<Pick<AlertService, 'deactivateChat' | 'reactivateChat' | 'migrateChat' | 'rearm' | 'snooze' | 'timezone' | 'setTimezone' | 'language' | 'setLanguage' | 'webhook' | 'setWebhook' | 'removeWebhook'>> &
    Partial<Pick<AlertService, 'linkChannel' | 'unlinkChannel' | 'channels' | 'linkedChannel' | 'channelOfRule'>>;
  now: () => number;
}

export interface CommandContext {
  chat: ChatRef;
  /** everything after the command name, trimmed */
  args: string;
  services: CommandServices;
  /** the platform's channel check; absent where there are no channels (console) */
  checkChannel?: CheckChannel;
}

export interface Command extends CommandInfo {
  aliases?: readonly string[];
  /** set on commands that change the chat's alerts or watchlist: in groups only admins may run them */
  mutates?: ManagedSubject;
  run(ctx: CommandContext): Promise<Reply>;
}
