import type { PrismaClient } from '../generated/prisma/client.js';
import { chatLanguages, type ChatSettings } from '../db/chats.js';
import type { SqlExecutor } from '../db/client.js';
import type { Db } from '../db/types.js';
import { describeError } from '../errors.js';
import { resolveLanguage } from '../i18n/index.js';
import { sleep } from '../lib/abort.js';
import { nextDelay } from '../lib/backoff.js';
import type { Logger } from '../log.js';
import type { WatchMove } from '../chat/commands/types.js';
import { renderAlertMessage, renderWatchMessage } from '../chat/format.js';
import { releaseUnhanded, type ClaimedNotification, type OutboxRow } from '../delivery/outbox.js';
import type { AlertPayload } from '../delivery/notification.js';
import { describeCondition } from './grammar.js';
import {
  canonicalDecimal, firingRuleDetails, recordFirings, type FiringMessage, type RuleFiringWrite, type RuleOwner,
} from './record-firings.js';
import type { Firing, RuleCondition } from './types.js';
import type { WordingCache } from './wording.js';

/** The dispatcher, as the writer hands it rows written already claimed for this process. */
export interface Handoff {
  /** whether `count` new rows may be written claimed for it */
  accepts(count: number): boolean;
  take(rows: readonly ClaimedNotification[]): void;
}

/**
 * A watch firing on its way to the writer: the row update and the message commit together. The text is
 * worded just before the write, in the chat's language as read then (watch messages are not on the path
 * the one-alert latency is measured on, and a read keeps them simple).
 */
export interface WatchFiring {
  watchId: number;
  chatId: number;
  price: number;
  at: number;
  move: WatchMove;
}

/**
 * A rule firing on its way to the writer, with whose rule it is as memory knew when it fired (a one-shot
 * rule is forgotten then). Unknown → the writer reads the rule's row.
 */
export interface PendingFiring extends Firing {
  owner: RuleOwner | undefined;
}

export interface FiringWriterOptions {
  db: () => PrismaClient;
  /** the driver without the ORM, when there is one (see Database.sql) */
  sql?: () => SqlExecutor | undefined;
  log: Logger;
  now: () => number;
  wording: WordingCache;
  /** whether the rule is still in the engine (a one-shot rule that fired is not: memory keeps nothing more of it) */
  isRunning: (ruleId: number) => boolean;
  /** called after firings were committed to the outbox, to wake the dispatcher */
  onEnqueued?: () => void;
  handoff?: Handoff;
}

/**
 * Writes what the engine fired to the outbox, one tick after another: a later firing of a rule must not
 * commit before an earlier one. Each firing is worded from memory (see wording.ts) and written with its
 * rule's new state in one statement (record-firings.ts); nothing is sent from here.
 */
export class FiringWriter {
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly opts: FiringWriterOptions) {}

  /** Queues a tick's firings behind the ones before. */
  write(firings: PendingFiring[], watchFirings: WatchFiring[]): void {
    this.writes = this.writes.then(() => this.persist(firings, watchFirings));
  }

  /** Resolves once everything queued so far is written. */
  idle(): Promise<void> {
    return this.writes;
  }

  /** Retries until the database takes it: the firing already happened in memory and must not be lost. */
  private async persist(firings: PendingFiring[], watchFirings: WatchFiring[] = []): Promise<void> {
    // One tick can fire thousands of rules. Each firing's state and its message still commit together,
    // but in chunks: one giant transaction outlived its timeout at ~10 000 firings, rolled back, and
    // retried forever with every later alert queued behind it.
    for (let i = 0; i === 0 || i < firings.length; i += FIRINGS_PER_TRANSACTION) {
      await this.persistChunk(firings.slice(i, i + FIRINGS_PER_TRANSACTION), i === 0 ? watchFirings : []);
      this.opts.onEnqueued?.(); // the first messages can go out while later chunks are written
    }
  }

  private async persistChunk(firings: PendingFiring[], watchFirings: WatchFiring[]): Promise<void> {
    const prisma = this.opts.db();
    let rules = firings;
    let watches = watchFirings;
    let reread = false;
    let failures = 0;
    /** what an attempt that failed wrote already claimed, if it committed after all */
    let unhanded: string[] = [];
    for (;;) {
      try {
        if (unhanded.length) {
          await releaseUnhanded(prisma, unhanded, new Date(this.opts.now()));
          unhanded = [];
        }
        // Worded before the write, from memory (or a read where memory has nothing): recordFirings writes a
        // firing only if its rule is still active and still worded so, and hands back the ones that are not.
        const [ruleWrites, watchMessages] = await Promise.all([this.ruleMessages(prisma, rules, reread), watchNotifications(prisma, watches)]);
        const messages = [...ruleWrites.messages, ...watchMessages];
        // Not after a failure: the failed attempt may have committed after all, and its claimed rows, which
        // nobody holds, go back to pending above; claiming again would race that.
        const claim = failures === 0 && (this.opts.handoff?.accepts(messages.length) ?? false);
        if (claim) unhanded = messages.map((m) => m.dedupeKey);
        const { claimed, stale } = await recordFirings(this.opts.sql?.() ?? prisma, {
          rules: ruleWrites.writes,
          watches: watches.map((w) => ({ watchId: w.watchId, price: w.price, at: w.at })),
          messages,
          now: new Date(this.opts.now()),
          claim,
        });
        unhanded = [];
        if (claimed.length) this.opts.handoff?.take(claimed);
        if (stale.length === 0) return;
        // Memory was behind the rows (a setting changed elsewhere, a rule moved with its chat): those
        // firings are read afresh and written again. Stale once more after a read is a race with
        // another change, or a bug that must not spin: that waits like a failure.
        const again = new Set(stale);
        rules = rules.filter((f) => again.has(f.ruleId));
        watches = [];
        if (reread) throw new Error(`rules ${stale.join(', ')} changed again while their firing was written`);
        reread = true;
      } catch (err) {
        const delayMs = nextDelay(failures++, { baseMs: 200, capMs: 10_000 });
        this.opts.log.error({ err: describeError(err), firings: rules.length, delayMs }, 'could not record firings; retrying');
        await sleep(delayMs);
      }
    }
  }

  /**
   * The rule writes and messages of these firings, worded by what memory holds of each rule and its chat,
   * or (for what it does not hold, or with `reread`) by the rows read now. A rule whose row is gone or
   * deleted gets neither.
   */
  private async ruleMessages(db: Db, firings: readonly PendingFiring[], reread: boolean): Promise<{ writes: RuleFiringWrite[]; messages: OutboxRow[] }> {
    const unknown = new Set(firings.filter((f) => reread || !f.owner || !this.opts.wording.hasChat(f.owner.chatId)).map((f) => f.ruleId));
    const read = new Map((await firingRuleDetails(db, [...unknown])).map((r) => [r.id, r]));
    for (const r of read.values()) {
      this.opts.wording.setSettings(r.chatId, settingsOf(r));
      // a one-shot rule that fired has left the engine: memory keeps nothing more of it
      if (this.opts.isRunning(r.id)) this.opts.wording.setOwner(r.id, r);
    }
    const writes: RuleFiringWrite[] = [];
    const messages: OutboxRow[] = [];
    for (const f of firings) {
      const row = read.get(f.ruleId);
      const owner = row ?? (unknown.has(f.ruleId) ? undefined : f.owner);
      const settings = owner && this.opts.wording.settings(owner.chatId);
      if (!owner || !settings) continue;
      const wordedBy = { chatId: owner.chatId, note: owner.note, ...settings };
      writes.push({ ruleId: f.ruleId, state: f.state, final: f.final, price: f.price, wordedBy });
      messages.push(...alertMessages(f, canonicalCondition(f.condition), wordedBy));
    }
    return { writes, messages };
  }
}

/** The settings part of a rule's row as read with its chat. */
function settingsOf(r: ChatSettings): ChatSettings {
  return { timezone: r.timezone, chatKind: r.chatKind, language: r.language, userLanguage: r.userLanguage, webhookActive: r.webhookActive };
}

/** Thresholds as users typed them ("200"), whether the engine took them from a new row or from the column's text at start-up. */
function canonicalCondition(c: RuleCondition): RuleCondition {
  return c.kind === 'level' || c.kind === 'crosses' ? { ...c, price: canonicalDecimal(c.price) } : { ...c, percent: canonicalDecimal(c.percent) };
}

/** A rule firing's chat message, worded in the chat's language, and its webhook copy when the chat has one. */
function alertMessages(f: Firing, condition: RuleCondition, by: RuleOwner & ChatSettings): OutboxRow[] {
  const language = resolveLanguage(by.language, by.chatKind, by.userLanguage);
  const payload: AlertPayload = {
    kind: 'alert', ruleId: f.ruleId, exchange: f.exchange, pair: f.pair, condition: describeCondition(condition, f.pair),
    price: f.price, at: f.at, source: f.source, final: f.final, language, ...(by.note ? { note: by.note } : {}),
  };
  const text = renderAlertMessage(language, payload, condition, by.timezone);
  const message: OutboxRow = { chatId: by.chatId, ruleId: f.ruleId, dedupeKey: `rule:${f.ruleId}:fire:${f.state.fireCount}`, text, payload };
  // the webhook copy is a row of its own, so a failing receiver never holds back the chat message
  return by.webhookActive ? [message, { ...message, dedupeKey: `${message.dedupeKey}:webhook`, target: 'webhook' as const }] : [message];
}

/** Watch messages, worded in each chat's language; a watch removed meanwhile gets none (recordFirings). */
async function watchNotifications(db: Db, watchFirings: readonly WatchFiring[]): Promise<FiringMessage[]> {
  const languages = await chatLanguages(db, watchFirings.map((w) => w.chatId));
  return watchFirings.map((w) => ({
    chatId: w.chatId, watchId: w.watchId, dedupeKey: `watch:${w.watchId}:${w.at}`, text: renderWatchMessage(languages.get(w.chatId) ?? 'en', w.move), payload: { kind: 'notice' },
  }));
}

/** small enough to commit in well under a second on a small machine, large enough to keep up with a burst */
const FIRINGS_PER_TRANSACTION = 250;
