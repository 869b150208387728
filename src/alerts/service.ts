import type { PrismaClient, AlertRule } from '../generated/prisma/client.js';
import { upsertChat } from '../db/chats.js';
import { describeError } from '../errors.js';
import { sleep } from '../lib/abort.js';
import { nextDelay } from '../lib/backoff.js';
import type { Logger } from '../log.js';
import type { MarketHub } from '../market/hub.js';
import type { PriceTick } from '../market/types.js';
import type { ChatRef } from '../chat/commands/types.js';
import { renderAlertMessage } from '../chat/format.js';
import { enqueue } from '../delivery/outbox.js';
import type { AlertPayload } from '../delivery/notification.js';
import { AlertEngine } from './engine.js';
import { describeCondition } from './grammar.js';
import {
  createRule, deleteAllChatRules, deleteChatRule, listChatRules, loadActiveRules, markRulesExpired, recordFiring,
  rowToEngineRule, saveRuleStates,
} from './store.js';
import type { Firing, RuleRuntimeState, RuleSpec } from './types.js';

export interface AlertServiceOptions {
  hub: MarketHub;
  log: Logger;
  maxRulesPerChat: number;
  now?: () => number;
  /** called after firings were committed to the outbox, to wake the dispatcher */
  onEnqueued?: () => void;
  engine?: AlertEngine;
}

export interface CreatedRule {
  rule: AlertRule;
  /** the price at creation (from the cache or one REST call) */
  tick: PriceTick;
  /** a level rule whose condition holds already: it fires on the next price */
  holdsNow: boolean;
}

/**
 * Rules at run time: the engine in memory, the rows in the database, and the hub subscriptions that keep
 * each rule's pair streaming. Firings leave here only as outbox rows, written in one transaction with the
 * rule state that produced them; nothing is sent from the tick path.
 */
export class AlertService {
  readonly engine: AlertEngine;
  private prisma: PrismaClient | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly releases = new Map<number, () => void>();
  private readonly chatOfRule = new Map<number, number>();
  private readonly meta = new Map<number, { chatId: number; condition: string; note?: string }>();
  private writes: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly opts: AlertServiceOptions) {
    this.engine = opts.engine ?? new AlertEngine();
    this.log = opts.log.child({ mod: 'alerts' });
    this.now = opts.now ?? Date.now;
  }

  /** Loads every active rule into the engine and starts evaluating ticks. */
  async start(prisma: PrismaClient): Promise<void> {
    this.prisma = prisma;
    const started = this.now();
    const rules = await loadActiveRules(prisma, new Date(this.now()));
    const rows = await prisma.alertRule.findMany({ where: { id: { in: rules.map((r) => r.id) } }, select: { id: true, chatId: true, note: true } });
    const extra = new Map(rows.map((r) => [r.id, r]));
    for (const rule of rules) {
      const row = extra.get(rule.id);
      if (!row) continue;
      this.track(rule.id, row.chatId, rule.pair, rule.condition, row.note ?? undefined);
      this.engine.add(rule);
      this.releases.set(rule.id, this.opts.hub.subscribe(rule.exchange, rule.pair));
    }
    this.unsubscribe = this.opts.hub.onTick((tick) => this.onTick(tick));
    this.log.info({ rules: rules.length, ms: this.now() - started }, 'alert rules loaded');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.writes;
    const dirty = this.engine.takeDirtyStates();
    if (this.prisma && dirty.size) await saveRuleStates(this.prisma, dirty).catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'could not save rule states'));
  }

  async create(chat: ChatRef, spec: RuleSpec & { exchange: string }, source: string, maxPerChat = this.opts.maxRulesPerChat): Promise<CreatedRule> {
    const prisma = this.db();
    await this.opts.hub.ensureListed(spec.exchange, spec.pair);
    const { tick } = await this.opts.hub.quote(spec.exchange, spec.pair);
    const state = initialState(spec, tick.last);
    const chatRow = await upsertChat(prisma, { platform: chat.platform, externalId: chat.chatId, kind: chat.kind, ...(chat.title ? { title: chat.title } : {}) });
    const rule = await createRule(prisma, { chatId: chatRow.id, ...(chat.userId ? { creatorId: chat.userId } : {}), spec, source, state, maxPerChat });
    const engineRule = rowToEngineRule(rule);
    this.track(rule.id, chatRow.id, rule.pair, engineRule.condition, rule.note ?? undefined);
    this.engine.add(engineRule);
    this.releases.set(rule.id, this.opts.hub.subscribe(rule.exchange, rule.pair));
    return { rule, tick, holdsNow: spec.condition.kind === 'level' && holds(spec.condition.op, tick.last, Number(spec.condition.price)) };
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
  pauseChat(chatId: number): void {
    for (const [ruleId, owner] of this.chatOfRule) if (owner === chatId) this.forget(ruleId);
  }

  private db(): PrismaClient {
    if (!this.prisma) throw new Error('the database is still starting; try again in a few seconds');
    return this.prisma;
  }

  private track(ruleId: number, chatId: number, pair: string, condition: Parameters<typeof describeCondition>[0], note: string | undefined): void {
    this.chatOfRule.set(ruleId, chatId);
    this.meta.set(ruleId, { chatId, condition: describeCondition(condition, pair), ...(note ? { note } : {}) });
  }

  private forget(ruleId: number): void {
    this.engine.remove(ruleId);
    this.releases.get(ruleId)?.();
    this.releases.delete(ruleId);
    this.chatOfRule.delete(ruleId);
    this.meta.delete(ruleId);
  }

  private onTick(tick: PriceTick): void {
    if (this.stopped) return;
    const firings = this.engine.evaluate(tick);
    if (firings.length === 0) return;
    const notifications = firings.flatMap((f) => this.toNotification(f));
    for (const f of firings) if (f.final) this.forget(f.ruleId);
    // One writer, in tick order: a later firing of the same rule must not commit before an earlier one.
    this.writes = this.writes.then(() => this.persist(firings, notifications));
  }

  private toNotification(f: Firing) {
    const meta = this.meta.get(f.ruleId);
    if (!meta) return [];
    const payload: AlertPayload = {
      kind: 'alert', ruleId: f.ruleId, exchange: f.exchange, pair: f.pair, condition: meta.condition, price: f.price,
      at: f.at, source: f.source, final: f.final, ...(meta.note ? { note: meta.note } : {}),
    };
    return [{ chatId: meta.chatId, ruleId: f.ruleId, dedupeKey: `rule:${f.ruleId}:fire:${f.state.fireCount}`, text: renderAlertMessage(payload), payload }];
  }

  /** Retries until the database takes it: the firing already happened in memory and must not be lost. */
  private async persist(firings: Firing[], notifications: ReturnType<AlertService['toNotification']>): Promise<void> {
    const prisma = this.db();
    for (let attempt = 0; ; attempt++) {
      try {
        await prisma.$transaction(async (tx) => {
          for (const f of firings) await recordFiring(tx, f.ruleId, f.state, f.final, f.price);
          await enqueue(tx, notifications, new Date(this.now()));
        });
        this.opts.onEnqueued?.();
        return;
      } catch (err) {
        const delayMs = nextDelay(attempt, { baseMs: 200, capMs: 10_000 });
        this.log.error({ err: describeError(err), firings: firings.length, delayMs }, 'could not record firings; retrying');
        await sleep(delayMs);
      }
    }
  }

  /** Expired rules leave the engine and are marked in the database; run periodically. */
  async sweepExpired(): Promise<number> {
    const ids = this.engine.sweepExpired(this.now());
    for (const id of ids) this.forget(id);
    if (ids.length && this.prisma) await markRulesExpired(this.prisma, ids);
    return ids.length;
  }
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
