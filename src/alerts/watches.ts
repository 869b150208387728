import { Prisma, type Watch } from '../generated/prisma/client.js';
import type { Db } from '../db/types.js';
import { UserInputError } from '../errors.js';
import { msg } from '../i18n/index.js';
import type { EngineRule, RuleRuntimeState } from './types.js';

/**
 * Watchlist rows ⇄ engine rules. A watch runs in the alert engine as a re-arming "move any" rule whose id
 * is the watch id negated: rule ids are positive, so both share one engine and one tick path without
 * colliding, and the sign alone routes a firing. The reference price lives on the row and is replaced by
 * each message's price, so a restart measures from where the last message left off instead of re-firing.
 */

export const MAX_WATCHES_PER_CHAT = 50;
export const DEFAULT_WATCH_PCT = '3';

export const watchRuleId = (watchId: number): number => -watchId;
export const isWatchRuleId = (ruleId: number): boolean => ruleId < 0;
export const watchIdOf = (ruleId: number): number => -ruleId;

export function watchToEngineRule(row: Watch): EngineRule {
  const state: RuleRuntimeState = { armed: true, fireCount: 0 };
  // null only for a row written by hand; the engine then takes its reference from the next price
  if (row.referencePrice !== null) state.referencePrice = Number(row.referencePrice.toString());
  return {
    id: watchRuleId(row.id),
    exchange: row.exchange,
    pair: row.pair,
    condition: { kind: 'move', direction: 'any', percent: row.movePct.toString() },
    repeat: { kind: 'every', cooldownSec: 0 },
    state,
  };
}

export interface AddWatchInput {
  chatId: number;
  exchange: string;
  pair: string;
  /** canonical decimal string, already range-checked by the command; undefined keeps the current one */
  movePct?: string;
  /** the current price: moves are measured from it until the first message */
  referencePrice: number;
  now: Date;
  maxPerChat: number;
}

export interface AddedWatch {
  watch: Watch;
  /** the pair was watched already; only its threshold changed */
  updated: boolean;
  /** the threshold before an update */
  previousPct?: string;
  /** watches of this chat afterwards */
  count: number;
}

/**
 * Adds a pair to a chat's watchlist, or changes the threshold of one already there (keeping its
 * reference, so a threshold change never re-bases a move in progress).
 */
export async function addWatch(db: Db, input: AddWatchInput): Promise<AddedWatch> {
  const key = { chatId: input.chatId, exchange: input.exchange, pair: input.pair };
  const existing = await db.watch.findUnique({ where: { chatId_exchange_pair: key } });
  const count = await db.watch.count({ where: { chatId: input.chatId } });
  if (!existing && count >= input.maxPerChat) {
    throw new UserInputError(
      msg('watch.quota', { count, max: input.maxPerChat }),
      `/unwatch ${input.pair}`,
    );
  }
  const movePct = input.movePct === undefined ? undefined : new Prisma.Decimal(input.movePct);
  // upsert rather than create: a second /watch racing this one lands as an update, not a unique-key error
  const watch = await db.watch.upsert({
    where: { chatId_exchange_pair: key },
    create: { ...key, movePct: movePct ?? new Prisma.Decimal(DEFAULT_WATCH_PCT), referencePrice: new Prisma.Decimal(input.referencePrice.toString()), createdAt: input.now },
    update: movePct ? { movePct } : {},
  });
  if (!existing) return { watch, updated: false, count: count + 1 };
  return { watch, updated: true, previousPct: existing.movePct.toString(), count };
}

/**
 * Removes one watch of this chat. Without an exchange the pair is looked up on every exchange; when it is
 * watched on several, the user has to say which rather than lose them all.
 */
export async function removeWatch(db: Db, chatId: number, pair: string, exchange?: string): Promise<Watch | null> {
  const found = await db.watch.findMany({ where: { chatId, pair, ...(exchange ? { exchange } : {}) }, orderBy: { id: 'asc' } });
  if (found.length > 1) {
    const on = found.map((w) => w.exchange);
    throw new UserInputError(msg('watch.ambiguous', { pair, exchanges: on.slice(0, -1).join(', '), last: on[on.length - 1]! }), `/unwatch ${pair} on ${on[on.length - 1]!}`);
  }
  const watch = found[0];
  if (!watch) return null;
  // deleteMany: a concurrent /unwatch may have removed it already, which is not an error
  const { count } = await db.watch.deleteMany({ where: { id: watch.id } });
  return count > 0 ? watch : null;
}

export function listWatches(db: Db, chatId: number): Promise<Watch[]> {
  return db.watch.findMany({ where: { chatId }, orderBy: [{ pair: 'asc' }, { exchange: 'asc' }] });
}

/**
 * Every watch of a reachable chat with its engine rule. Watches carry no paused state of their own: the
 * chat's `active` flag is what the dispatcher clears when the bot is blocked or removed.
 */
export async function loadWatches(db: Db): Promise<Array<{ row: Watch; rule: EngineRule }>> {
  const rows = await db.watch.findMany({ where: { chat: { active: true } }, orderBy: { id: 'asc' } });
  return rows.map((row) => ({ row, rule: watchToEngineRule(row) }));
}
