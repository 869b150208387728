import { Prisma, type PrismaClient, type AlertRule, type Watch } from '../generated/prisma/client.js';
import { deactivateChat as deactivateChatRow, migrateChat as migrateChatRow, reactivateChat as reactivateChatRow, readChatSettings, upsertChat, type ChatRefInput, type MigratedChat } from '../db/chats.js';
import { channelOfRule, findLinkedChannel, linkChannel, listLinkedChannels, unlinkChannel, type LinkedChannelRow } from '../db/channels.js';
import type { SqlExecutor } from '../db/client.js';
import type { Db } from '../db/types.js';
import { describeError, UserInputError } from '../errors.js';
import { msg, type Lang } from '../i18n/index.js';
import type { Logger } from '../log.js';
import type { MarketHub } from '../market/hub.js';
import type { PriceTick } from '../market/types.js';
import type { ChatRef, Platform, WatchMove, WebhookView } from '../chat/commands/types.js';
import { randomBytes } from 'node:crypto';
import { AlertEngine } from './engine.js';
import { WordingCache } from './wording.js';
import { FiringWriter, type Handoff, type PendingFiring, type WatchFiring } from './firing-writer.js';
import {
  columnsToCondition, createRule, deleteAllChatRules, deleteChatRule, listChatRules, loadActiveRules, loadSnoozedRules, markRulesExpired,
  rowToEngineRule, saveRuleStates,
} from './store.js';
import type { EngineRule, Firing, RuleRuntimeState, RuleSpec } from './types.js';
import {
  addWatch, isWatchRuleId, listWatches, loadWatches, MAX_WATCHES_PER_CHAT, removeWatch, watchIdOf, watchRuleId,
  watchToEngineRule, type AddedWatch,
} from './watches.js';

export interface AlertServiceOptions {
  hub: MarketHub;
  log: Logger;
  maxRulesPerChat: number;
  now?: () => number;
  /** called after firings were committed to the outbox, to wake the dispatcher */
  onEnqueued?: () => void;
  /** the dispatcher, when it may take a few new rows written already claimed (no claim round trip) */
  handoff?: Handoff;
  engine?: AlertEngine;
  maxWatchesPerChat?: number;
  /** schedules the end of a snooze (default: an unref'd setTimeout); tests end one without waiting */
  setTimer?: (fire: () => void, ms: number) => { cancel(): void };
}

function realTimer(fire: () => void, ms: number): { cancel(): void } {
  // a snooze is capped at a week (buttons.ts), far below setTimeout's 2^31-1 ms limit
  const timer = setTimeout(fire, Math.max(0, ms));
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
}

export interface CreatedRule {
  rule: AlertRule;
  /** the price at creation (from the cache or one REST call) */
  tick: PriceTick;
  /** a level rule whose condition holds already: it fires on the next price */
  holdsNow: boolean;
}

export interface RearmedRule {
  rule: AlertRule;
  /** the rule was live and running already; nothing changed (a snoozed rule is re-armed: its snooze ends) */
  already: boolean;
  /** a level rule whose condition holds at the current price: it fires with the next one */
  holdsNow: boolean;
}

export interface SnoozedRule {
  rule: AlertRule;
  until: Date;
}

export interface WatchResult extends AddedWatch {
  /** the price when asked (from the cache or one REST call) */
  tick: PriceTick;
}

/**
 * Rules at run time: the engine in memory, the rows in the database, and the hub subscriptions that keep
 * each rule's pair streaming. Firings leave here only as outbox rows, written in one statement with the
 * rule state that produced them (record-firings.ts); nothing is sent from the tick path.
 */
export class AlertService {
  readonly engine: AlertEngine;
  private prisma: PrismaClient | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  /**
   * One hub subscription per (exchange, pair), counted by the rules and watches on it: a million rules
   * cost a counter each, not a closure each.
   */
  private readonly pairRefs = new Map<string, { count: number; release: () => void }>();
  private readonly pairOfRule = new Map<number, string>();
  /** by engine id (negative); reference and since move with every message, to say "from … since …" */
  private readonly watchMeta = new Map<number, { chatId: number; reference: number | undefined; since: number }>();
  /** watches loaded without a reference: the engine takes one from the first price, and we record it */
  private readonly unreferenced = new Set<number>();
  readonly maxWatchesPerChat: number;
  /** rules out of the engine until their timer puts them back (see snooze) */
  private readonly snoozed = new Map<number, { cancel(): void }>();
  private readonly setTimer: NonNullable<AlertServiceOptions['setTimer']>;
  /** rules' chats and notes, chats' settings: a firing's message is worded without a read (see wording.ts) */
  private readonly wording = new WordingCache();
  private readonly writer: FiringWriter;
  private sql: SqlExecutor | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly opts: AlertServiceOptions) {
    this.engine = opts.engine ?? new AlertEngine();
    this.log = opts.log.child({ mod: 'alerts' });
    this.now = opts.now ?? Date.now;
    this.maxWatchesPerChat = opts.maxWatchesPerChat ?? MAX_WATCHES_PER_CHAT;
    this.setTimer = opts.setTimer ?? realTimer;
    this.writer = new FiringWriter({
      db: () => this.db(), sql: () => this.sql, log: this.log, now: this.now, wording: this.wording, isRunning: (id) => this.pairOfRule.has(id),
      ...(opts.onEnqueued ? { onEnqueued: opts.onEnqueued } : {}), ...(opts.handoff ? { handoff: opts.handoff } : {}),
    });
  }

  /**
   * Loads every active rule into the engine and starts evaluating ticks. `sql`: the driver without the
   * ORM, when the database offers it, for the firing write (see Database.sql).
   */
  async start(prisma: PrismaClient, sql?: SqlExecutor): Promise<void> {
    this.prisma = prisma;
    this.sql = sql;
    const started = this.now();
    const chats = new Set<number>();
    const rules = await loadActiveRules(prisma, new Date(this.now()), {
      onOwner: (id, owner) => {
        this.wording.setOwner(id, owner);
        chats.add(owner.chatId);
      },
    });
    for (const rule of rules) this.run(rule);
    for (const [id, settings] of await readChatSettings(prisma, [...chats])) this.wording.setSettings(id, settings);
    const snoozes = await loadSnoozedRules(prisma, new Date(started));
    for (const { id, until } of snoozes) this.endSnoozeIn(id, until.getTime() - started);
    const watches = await loadWatches(prisma);
    for (const { row, rule } of watches) this.runWatch(row, rule);
    this.unsubscribe = this.opts.hub.onTick((tick) => this.onTick(tick));
    this.log.info({ rules: rules.length, snoozed: snoozes.length, watches: watches.length, ms: this.now() - started }, 'alert rules loaded');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    for (const timer of this.snoozed.values()) timer.cancel();
    this.snoozed.clear();
    await this.writer.idle();
    const dirty = this.engine.takeDirtyStates();
    // a watch's only lasting state is its reference, written with each message; re-arming is not worth a write
    for (const id of dirty.keys()) if (isWatchRuleId(id)) dirty.delete(id);
    if (this.prisma && dirty.size) await saveRuleStates(this.prisma, dirty).catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'could not save rule states'));
  }

  async create(chat: ChatRef, spec: RuleSpec & { exchange: string }, source: string, maxPerChat = this.opts.maxRulesPerChat): Promise<CreatedRule> {
    const prisma = this.db();
    await this.opts.hub.ensureListed(spec.exchange, spec.pair);
    const { tick } = await this.opts.hub.quote(spec.exchange, spec.pair);
    const state = initialState(spec, tick.last);
    const chatRow = await upsertChat(prisma, chatInput(chat));
    const rule = await createRule(prisma, { chatId: chatRow.id, ...(chat.userId ? { creatorId: chat.userId } : {}), spec, source, state, maxPerChat });
    this.runRow(rule);
    // read now, while the user waits for the reply anyway, rather than when the rule fires
    if (!this.wording.hasChat(chatRow.id)) await this.readSettings(prisma, chatRow.id);
    return { rule, tick, holdsNow: spec.condition.kind === 'level' && holds(spec.condition.op, tick.last, Number(spec.condition.price)) };
  }

  /** The chat's IANA timezone for message times, or null for UTC only. */
  async timezone(chat: ChatRef): Promise<string | null> {
    const row = await this.db().chat.findUnique({ where: { platform_externalId: { platform: chat.platform, externalId: chat.chatId } }, select: { timezone: true } });
    return row?.timezone ?? null;
  }

  /** Sets (or with null clears) the chat's timezone; the zone must already be validated. */
  async setTimezone(chat: ChatRef, timezone: string | null): Promise<void> {
    const prisma = this.db();
    const row = await upsertChat(prisma, chatInput(chat));
    await prisma.chat.update({ where: { id: row.id }, data: { timezone } });
    await this.rereadSettings(prisma, row.id);
  }

  /**
   * The language the chat chose with /language; null when it never did. Asked before every reply, so it
   * also notes a private chat's changed client language (rarely a write): alerts then follow the replies.
   */
  async language(chat: ChatRef): Promise<string | null> {
    const prisma = this.db();
    const key = { platform_externalId: { platform: chat.platform, externalId: chat.chatId } };
    const row = await prisma.chat.findUnique({ where: key, select: { id: true, language: true, userLanguage: true } });
    const hint = chatInput(chat).userLanguage;
    if (row && hint !== undefined && row.userLanguage !== hint) {
      await prisma.chat.update({ where: { id: row.id }, data: { userLanguage: hint } });
      await this.rereadSettings(prisma, row.id);
    }
    return row?.language ?? null;
  }

  /** Records the chat's language for replies and alerts (validated by the caller). */
  async setLanguage(chat: ChatRef, language: Lang): Promise<void> {
    const prisma = this.db();
    const row = await upsertChat(prisma, chatInput(chat));
    await prisma.chat.update({ where: { id: row.id }, data: { language } });
    await this.rereadSettings(prisma, row.id);
  }

  /** The chat's webhook, without its secret; null when it has none. */
  async webhook(chat: ChatRef): Promise<WebhookView | null> {
    const row = await this.db().webhook.findFirst({
      where: { chat: { platform: chat.platform, externalId: chat.chatId } },
      select: { url: true, active: true, failures: true, lastError: true, createdAt: true },
    });
    return row;
  }

  /** Creates or replaces the chat's webhook with a fresh secret, returned this once; the URL must already be validated. */
  async setWebhook(chat: ChatRef, url: string): Promise<{ url: string; secret: string }> {
    const prisma = this.db();
    const row = await upsertChat(prisma, chatInput(chat));
    const secret = randomBytes(32).toString('hex');
    const fresh = { url, secret, active: true, failures: 0, lastError: null, createdAt: new Date(this.now()) };
    await prisma.webhook.upsert({ where: { chatId: row.id }, create: { chatId: row.id, ...fresh }, update: fresh });
    await this.rereadSettings(prisma, row.id);
    return { url, secret };
  }

  /** Removes the chat's webhook; alerts still waiting for it are then not posted. False when there was none. */
  async removeWebhook(chat: ChatRef): Promise<boolean> {
    const prisma = this.db();
    const row = await prisma.chat.findUnique({ where: { platform_externalId: { platform: chat.platform, externalId: chat.chatId } }, select: { id: true } });
    if (!row) return false;
    const { count } = await prisma.webhook.deleteMany({ where: { chatId: row.id } });
    await this.rereadSettings(prisma, row.id);
    return count > 0;
  }

  // ── Channels linked from a private chat (/channel); the checks with the platform happen in the command layer ──

  /**
   * Links a channel the platform confirmed (bot and user are admins) to this private chat. A channel that
   * had been given up (bot removed) is reachable again, so its paused rules and watches resume first.
   */
  async linkChannel(owner: ChatRef, channel: { chatId: string; handle: string }): Promise<{ already: boolean }> {
    await this.reactivateChat(owner.platform, channel.chatId);
    const { already } = await this.db().$transaction((tx) =>
      linkChannel(tx, {
        owner: { platform: owner.platform, externalId: owner.chatId, kind: owner.kind, ...(owner.title ? { title: owner.title } : {}) },
        channel: { platform: owner.platform, externalId: channel.chatId, handle: channel.handle },
        linkedBy: owner.userId ?? owner.chatId,
      }),
    );
    return { already };
  }

  /** Unlinks; with the last link the channel's rules and watches go too (see unlinkChannel). Null when not linked here. */
  async unlinkChannel(owner: ChatRef, handle: string): Promise<{ handle: string; remaining: number; alerts: number; watches: number } | null> {
    const gone = await this.db().$transaction((tx) => unlinkChannel(tx, { platform: owner.platform, externalId: owner.chatId }, handle));
    if (!gone) return null;
    for (const r of gone.rules) {
      this.snoozed.get(r.id)?.cancel();
      this.snoozed.delete(r.id);
      this.forget(r.id);
    }
    for (const w of gone.watches) this.forget(watchRuleId(w.id));
    return { handle: gone.channel.title ?? handle, remaining: gone.remaining, alerts: gone.rules.length, watches: gone.watches.length };
  }

  async channels(owner: ChatRef): Promise<LinkedChannelRow[]> {
    return listLinkedChannels(this.db(), { platform: owner.platform, externalId: owner.chatId });
  }

  /** The channel with this @handle that this chat linked: its platform id and handle as stored; null when not linked. */
  async linkedChannel(owner: ChatRef, handle: string): Promise<{ chatId: string; handle: string } | null> {
    const row = await findLinkedChannel(this.db(), { platform: owner.platform, externalId: owner.chatId }, handle);
    return row ? { chatId: row.externalId, handle: row.title ?? handle } : null;
  }

  /** The linked channel a live rule of another chat belongs to, so /delete <id> works from the private chat. */
  async channelOfRule(owner: ChatRef, ruleId: number): Promise<{ chatId: string; handle: string } | null> {
    const row = await channelOfRule(this.db(), { platform: owner.platform, externalId: owner.chatId }, ruleId);
    return row ? { chatId: row.externalId, handle: row.title ?? row.externalId } : null;
  }

  async list(chat: ChatRef): Promise<AlertRule[]> {
    const prisma = this.db();
    const row = await prisma.chat.findUnique({ where: { platform_externalId: { platform: chat.platform, externalId: chat.chatId } } });
    return row ? listChatRules(prisma, row.id) : [];
  }

  /** Deletes one rule (or all with id 'all') of this chat; returns what was deleted. */
  async delete(chat: ChatRef, id: number | 'all'): Promise<AlertRule[]> {
    const prisma = this.db();
    const row = await prisma.chat.findUnique({ where: { platform_externalId: { platform: chat.platform, externalId: chat.chatId } } });
    if (!row) return [];
    const gone = id === 'all' ? await deleteAllChatRules(prisma, row.id) : [await deleteChatRule(prisma, row.id, id)].filter((r): r is AlertRule => r !== null);
    for (const r of gone) this.forget(r.id);
    return gone;
  }

  /** The dispatcher found the chat unreachable: its rules are paused in the database, so stop evaluating them. */
  async pauseChat(chatId: number): Promise<void> {
    const paused = await this.db().alertRule.findMany({ where: { chatId, state: 'paused' }, select: { id: true } });
    for (const { id } of paused) this.forget(id);
    for (const [id, meta] of this.watchMeta) if (meta.chatId === chatId) this.forget(id);
  }

  // ── Chat reachability (the platform says the bot was removed, blocked or re-added) and message buttons ──

  /** The bot was removed from or blocked in this chat: its rules pause and leave the engine, with its watches. */
  async deactivateChat(platform: Platform, externalId: string): Promise<boolean> {
    const chat = await this.db().$transaction((tx) => deactivateChatRow(tx, { platform, externalId }));
    if (!chat) return false;
    await this.pauseChat(chat.id);
    return true;
  }

  /** The chat is reachable again: paused rules resume in the engine and its watches run again. Null for an unknown chat. */
  async reactivateChat(platform: Platform, externalId: string): Promise<{ resumed: number } | null> {
    const prisma = this.db();
    const back = await prisma.$transaction((tx) => reactivateChatRow(tx, { platform, externalId }, new Date(this.now())));
    if (!back) return null;
    // a rule snoozed before the chat went away comes back when its snooze ends, not now
    const now = this.now();
    for (const rule of back.resumed) {
      if (this.snoozed.has(rule.id)) continue;
      // paused at start-up, so no timer was set for its snooze then
      if (rule.snoozedUntil && rule.snoozedUntil.getTime() > now) this.endSnoozeIn(rule.id, rule.snoozedUntil.getTime() - now);
      else this.runRow(rule);
    }
    if (back.wasInactive) {
      for (const w of await listWatches(prisma, back.chat.id)) if (!this.watchMeta.has(watchRuleId(w.id))) this.runWatch(w, watchToEngineRule(w));
    }
    if (back.wasInactive || back.resumed.length) this.log.info({ platform, chat: externalId, resumed: back.resumed.length }, 'chat reachable again; its rules resumed');
    return { resumed: back.resumed.length };
  }

  /**
   * The chat lives on under a new platform id (a Telegram group upgraded to a supergroup): its row takes
   * the new id; see migrateChat in db/chats.ts for a row the new id already had. Null when nothing moved.
   */
  async migrateChat(platform: Platform, from: string, to: string): Promise<MigratedChat | null> {
    const moved = await this.db().$transaction((tx) => migrateChatRow(tx, { platform, from, to }));
    if (moved) this.chatMigrated(moved);
    return moved;
  }

  /** A migration was written (here or by the dispatcher): watches of a merged row now belong to the kept one. */
  chatMigrated(moved: MigratedChat): void {
    // the kept row may have taken the other's settings; its rules' next firing reads what is there now
    this.wording.dropChat(moved.chat.id);
    if (!moved.merged) return;
    this.wording.dropChat(moved.merged.id);
    for (const id of moved.merged.droppedWatchIds) this.forget(watchRuleId(id));
    for (const meta of this.watchMeta.values()) if (meta.chatId === moved.merged.id) meta.chatId = moved.chat.id;
  }

  /**
   * Makes a one-shot rule that fired live again, its reference and side taken from the current price as
   * for a new rule. A live rule is left alone, except that a snooze on it ends. Null when the chat has no
   * such rule any more (deleted, or another chat's).
   */
  async rearm(chat: ChatRef, id: number): Promise<RearmedRule | null> {
    const found = await this.ruleOfChat(chat, id);
    if (!found) return null;
    const { rule } = found;
    if (rule.state !== 'fired') {
      const timer = this.snoozed.get(id);
      if (!timer || rule.state !== 'active') return { rule, already: true, holdsNow: false };
      timer.cancel();
      this.snoozed.delete(id);
      await this.db().alertRule.updateMany({ where: { id }, data: { snoozedUntil: null } });
      this.runRow(rule);
      return { rule, already: false, holdsNow: false };
    }
    const condition = columnsToCondition(rule);
    // without a price the engine learns reference and side from the next tick; a re-arm need not fail on that
    const tick = await this.opts.hub.quote(rule.exchange, rule.pair).then((q) => q.tick, () => undefined);
    const fresh = tick ? initialState({ pair: rule.pair, condition, repeat: { kind: 'once' } }, tick.last) : { armed: true, fireCount: 0 };
    const revived = await this.reviveFired(rule, fresh);
    if (!revived) return { rule, already: true, holdsNow: false };
    this.runRow(revived);
    const holdsNow = tick !== undefined && condition.kind === 'level' && holds(condition.op, tick.last, Number(condition.price));
    return { rule: revived, already: false, holdsNow };
  }

  /**
   * Keeps a rule quiet for `seconds`: out of the engine now, back when the time is up. A one-shot rule
   * that fired comes back re-armed, measured from the price then, so on its message "snooze" means
   * "remind me again later". The row says active throughout, with snoozed_until set, so a restart keeps
   * the rule out for what is left of the snooze (see start) instead of firing it early.
   */
  async snooze(chat: ChatRef, id: number, seconds: number): Promise<SnoozedRule | null> {
    const found = await this.ruleOfChat(chat, id);
    if (!found) return null;
    let { rule } = found;
    if (rule.state === 'fired') rule = (await this.reviveFired(rule, { armed: true, fireCount: 0 })) ?? rule;
    const running = this.engine.get(id);
    if (running) {
      // what the engine learnt since the last write (side, reference, went back) must survive the pause
      await saveRuleStates(this.db(), new Map([[id, running.state]]));
      this.forget(id);
    }
    const until = new Date(this.now() + seconds * 1000);
    await this.db().alertRule.updateMany({ where: { id, state: 'active' }, data: { snoozedUntil: until } });
    this.endSnoozeIn(id, seconds * 1000);
    return { rule, until };
  }

  /** Sets (or replaces) the timer that puts a snoozed rule back into the engine. */
  private endSnoozeIn(id: number, ms: number): void {
    this.snoozed.get(id)?.cancel();
    const timer = this.setTimer(() => {
      if (this.snoozed.get(id) !== timer) return; // replaced or cancelled meanwhile
      this.snoozed.delete(id);
      if (!this.stopped) this.endSnooze(id).catch((err: unknown) => this.log.warn({ ruleId: id, err: describeError(err) }, 'could not end a snooze'));
    }, ms);
    this.snoozed.set(id, timer);
  }

  /** Back into the engine from its row, unless it was deleted, paused with its chat, or expired meanwhile. */
  private async endSnooze(id: number): Promise<void> {
    const [row] = await this.db().alertRule.updateManyAndReturn({ where: { id }, data: { snoozedUntil: null } });
    if (row?.state !== 'active') return;
    if (row.expiresAt && row.expiresAt.getTime() <= this.now()) return void (await markRulesExpired(this.db(), [id]));
    this.runRow(row);
  }

  /** One rule of this chat by id; null when the chat or the rule is unknown, or the rule was deleted. */
  private async ruleOfChat(chat: ChatRef, id: number): Promise<{ rule: AlertRule } | null> {
    const prisma = this.db();
    const chatRow = await prisma.chat.findUnique({ where: { platform_externalId: { platform: chat.platform, externalId: chat.chatId } } });
    if (!chatRow) return null;
    const rule = await prisma.alertRule.findFirst({ where: { id, chatId: chatRow.id } });
    if (!rule || rule.state === 'deleted') return null;
    if (rule.state === 'expired' || (rule.expiresAt && rule.expiresAt.getTime() <= this.now())) {
      throw new UserInputError(msg('alerts.expired', { id }));
    }
    return { rule };
  }

  /**
   * fired → active with a fresh state, counting against the chat's quota again. fireCount and lastFiredAt
   * carry on: the outbox dedupes firings by count. Null when another press revived it first.
   */
  private async reviveFired(rule: AlertRule, fresh: RuleRuntimeState): Promise<AlertRule | null> {
    const prisma = this.db();
    const live = await prisma.alertRule.count({ where: { chatId: rule.chatId, state: { in: ['active', 'paused'] } } });
    if (live >= this.opts.maxRulesPerChat) {
      throw new UserInputError(msg('alerts.quota', { count: live, max: this.opts.maxRulesPerChat }), '/alerts');
    }
    const [revived] = await prisma.alertRule.updateManyAndReturn({
      where: { id: rule.id, state: 'fired' },
      data: {
        state: 'active', armed: true, wentBack: false, side: fresh.side ?? null, snoozedUntil: null,
        referencePrice: fresh.referencePrice === undefined ? null : new Prisma.Decimal(fresh.referencePrice.toString()),
      },
    });
    return revived ?? null;
  }

  private db(): PrismaClient {
    if (!this.prisma) throw new Error('the database is still starting; try again in a few seconds');
    return this.prisma;
  }

  /** A rule's row into the engine, remembering whose it is for its messages. */
  private runRow(row: AlertRule): void {
    this.wording.setOwner(row.id, row);
    this.run(rowToEngineRule(row));
  }

  /** The chat's settings into memory, so its rules' firings are worded without a read. */
  private async readSettings(db: Db, chatId: number): Promise<void> {
    const settings = (await readChatSettings(db, [chatId])).get(chatId);
    if (settings) this.wording.setSettings(chatId, settings);
    else this.wording.dropChat(chatId);
  }

  /** After a change to a chat's settings: memory follows, if it holds the chat (a chat no rule fires for is not kept). */
  private async rereadSettings(db: Db, chatId: number): Promise<void> {
    if (this.wording.hasChat(chatId)) await this.readSettings(db, chatId);
  }

  /** Puts a rule (or a watch) into the engine and keeps its pair streaming; idempotent per id. */
  private run(rule: EngineRule): void {
    this.engine.add(rule);
    if (this.pairOfRule.has(rule.id)) return;
    const key = `${rule.exchange}\u0000${rule.pair}`;
    this.pairOfRule.set(rule.id, key);
    const ref = this.pairRefs.get(key);
    if (ref) ref.count++;
    else this.pairRefs.set(key, { count: 1, release: this.opts.hub.subscribe(rule.exchange, rule.pair) });
  }

  private forget(ruleId: number): void {
    this.engine.remove(ruleId);
    const key = this.pairOfRule.get(ruleId);
    this.pairOfRule.delete(ruleId);
    const ref = key === undefined ? undefined : this.pairRefs.get(key);
    if (ref && --ref.count === 0) {
      this.pairRefs.delete(key!);
      ref.release();
    }
    this.watchMeta.delete(ruleId);
    this.unreferenced.delete(ruleId);
    this.wording.dropRule(ruleId);
  }

  private onTick(tick: PriceTick): void {
    if (this.stopped) return;
    const all = this.engine.evaluate(tick);
    if (this.unreferenced.size) this.learnReferences(tick.exchangeTs);
    if (all.length === 0) return;
    // taken before a one-shot rule leaves the engine and memory below
    const firings: PendingFiring[] = all.filter((f) => !isWatchRuleId(f.ruleId)).map((f) => ({ ...f, owner: this.wording.owner(f.ruleId) }));
    const watchFirings = all.filter((f) => isWatchRuleId(f.ruleId)).flatMap((f) => this.toWatchFiring(f));
    for (const f of firings) if (f.final) this.forget(f.ruleId);
    this.writer.write(firings, watchFirings);
  }

  /** Expired rules leave the engine and are marked in the database; run periodically. */
  async sweepExpired(): Promise<number> {
    const ids = this.engine.sweepExpired(this.now());
    for (const id of ids) this.forget(id);
    if (ids.length && this.prisma) await markRulesExpired(this.prisma, ids);
    return ids.length;
  }

  // ── Watchlist: watches run in the same engine as rules, under negative ids (see watches.ts) ──

  /** Adds a pair to the chat's watchlist, or changes the threshold of one already on it (kept when none is given). */
  async watch(chat: ChatRef, input: { exchange: string; pair: string; movePct?: string }): Promise<WatchResult> {
    const prisma = this.db();
    const { tick } = await this.opts.hub.quote(input.exchange, input.pair);
    const chatRow = await upsertChat(prisma, chatInput(chat));
    const added = await addWatch(prisma, { chatId: chatRow.id, ...input, referencePrice: tick.last, now: new Date(this.now()), maxPerChat: this.maxWatchesPerChat });
    const rule = watchToEngineRule(added.watch);
    // the running state may hold a reference newer than the row (a message still waiting for the writer)
    const running = this.engine.get(rule.id);
    if (running) rule.state = running.state;
    this.runWatch(added.watch, rule);
    // upsertChat re-activated a chat that had been unreachable, whose watches left the engine then: revive them
    for (const w of await listWatches(prisma, chatRow.id)) if (!this.watchMeta.has(watchRuleId(w.id))) this.runWatch(w, watchToEngineRule(w));
    return { ...added, tick };
  }

  /** Removes a pair from the chat's watchlist (any exchange when none is named); null when it was not there. */
  async unwatch(chat: ChatRef, pair: string, exchange?: string): Promise<Watch | null> {
    const prisma = this.db();
    const row = await prisma.chat.findUnique({ where: { platform_externalId: { platform: chat.platform, externalId: chat.chatId } } });
    if (!row) return null;
    const gone = await removeWatch(prisma, row.id, pair, exchange);
    if (gone) this.forget(watchRuleId(gone.id));
    return gone;
  }

  async watchlist(chat: ChatRef): Promise<Watch[]> {
    const prisma = this.db();
    const row = await prisma.chat.findUnique({ where: { platform_externalId: { platform: chat.platform, externalId: chat.chatId } } });
    return row ? listWatches(prisma, row.id) : [];
  }

  /** Puts a watch into the engine and keeps its pair streaming; idempotent, so a threshold update reuses it. */
  private runWatch(row: Watch, rule: EngineRule): void {
    const id = rule.id;
    this.run(rule);
    if (!this.watchMeta.has(id)) {
      const since = (row.lastNotifiedAt ?? row.createdAt).getTime();
      this.watchMeta.set(id, { chatId: row.chatId, reference: rule.state.referencePrice, since });
      if (rule.state.referencePrice === undefined) this.unreferenced.add(id);
    }
  }

  private toWatchFiring(f: Firing): WatchFiring[] {
    const meta = this.watchMeta.get(f.ruleId);
    if (!meta) return [];
    const watchId = watchIdOf(f.ruleId);
    const move: WatchMove = {
      watchId, exchange: f.exchange, pair: f.pair, price: f.price, from: meta.reference ?? f.price, since: meta.since, at: f.at, source: f.source,
    };
    meta.reference = f.price;
    meta.since = f.at;
    return [{ watchId, chatId: meta.chatId, price: f.price, at: f.at, move }];
  }

  /** Records the reference the engine took from the first price, so the first message can say where it started. */
  private learnReferences(at: number): void {
    for (const id of this.unreferenced) {
      const reference = this.engine.get(id)?.state.referencePrice;
      const meta = this.watchMeta.get(id);
      if (reference === undefined || !meta) continue;
      meta.reference = reference;
      meta.since = at;
      this.unreferenced.delete(id);
    }
  }
}

/**
 * The chat row's fields from a command's ChatRef. A private chat's client language is remembered so the
 * alerts it later receives are worded as its replies are; a group's sender says nothing about the group.
 */
function chatInput(chat: ChatRef): ChatRefInput {
  return {
    platform: chat.platform, externalId: chat.chatId, kind: chat.kind, ...(chat.title ? { title: chat.title } : {}),
    ...(chat.kind === 'private' && chat.userLanguage ? { userLanguage: chat.userLanguage.slice(0, 16) } : {}),
  };
}

function holds(op: '>' | '>=' | '<' | '<=', price: number, level: number): boolean {
  return op === '>' ? price > level : op === '>=' ? price >= level : op === '<' ? price < level : price <= level;
}

/** Reference price for move rules and the side for crosses, from the price the user saw at creation. */
function initialState(spec: RuleSpec, price: number): RuleRuntimeState {
  const state: RuleRuntimeState = { armed: true, fireCount: 0 };
  if (spec.condition.kind === 'move') state.referencePrice = price;
  if (spec.condition.kind === 'crosses') {
    const level = Number(spec.condition.price);
    if (price !== level) state.side = price > level ? 'above' : 'below';
  }
  return state;
}
