import { Prisma, type AlertRule } from '../generated/prisma/client.js';
import type { Db } from '../db/types.js';
import { UserInputError } from '../errors.js';
import { msg } from '../i18n/index.js';
import type { RuleOwner } from './record-firings.js';
import type { EngineRule, MoveDirection, RuleCondition, RuleRuntimeState, RuleSpec } from './types.js';

/**
 * Rules ⇄ database rows. A condition is stored as (kind, op, threshold, window_sec) so every rule kind
 * fits one indexed table; thresholds are Decimal(38,18) written from the user's exact decimal string.
 */

const DIRECTION_OP: Record<MoveDirection, string> = { up: '+', down: '-', any: '±' };
const OP_DIRECTION = new Map(Object.entries(DIRECTION_OP).map(([d, op]) => [op, d as MoveDirection]));

export interface RuleColumns {
  kind: AlertRule['kind'];
  op: string;
  threshold: string;
  windowSec: number | null;
}

export function conditionToColumns(c: RuleCondition): RuleColumns {
  switch (c.kind) {
    case 'level':
      return { kind: 'level', op: c.op, threshold: c.price, windowSec: null };
    case 'crosses':
      return { kind: 'crosses', op: 'x', threshold: c.price, windowSec: null };
    case 'move':
      return { kind: 'move', op: DIRECTION_OP[c.direction], threshold: c.percent, windowSec: null };
    case 'window_move':
      return { kind: 'window_move', op: DIRECTION_OP[c.direction], threshold: c.percent, windowSec: c.windowSec };
  }
}

/** The columns a rule is rebuilt from; decimals may be Prisma Decimals or their text (raw queries). */
export interface RuleRow {
  id: number;
  exchange: string;
  pair: string;
  kind: AlertRule['kind'];
  op: string;
  threshold: { toString(): string };
  windowSec: number | null;
  repeat: AlertRule['repeat'];
  cooldownSec: number | null;
  expiresAt: Date | null;
  armed: boolean;
  wentBack: boolean;
  side: AlertRule['side'];
  referencePrice: { toString(): string } | null;
  lastFiredAt: Date | null;
  fireCount: number;
}

export function columnsToCondition(row: Pick<RuleRow, 'id' | 'kind' | 'op' | 'threshold' | 'windowSec'>): RuleCondition {
  const value = row.threshold.toString();
  const direction = (): MoveDirection => {
    const d = OP_DIRECTION.get(row.op);
    if (!d) throw new Error(`rule ${row.id}: unknown move op "${row.op}"`);
    return d;
  };
  switch (row.kind) {
    case 'level':
      if (row.op !== '>' && row.op !== '>=' && row.op !== '<' && row.op !== '<=') throw new Error(`rule ${row.id}: unknown level op "${row.op}"`);
      return { kind: 'level', op: row.op, price: value };
    case 'crosses':
      return { kind: 'crosses', price: value };
    case 'move':
      return { kind: 'move', direction: direction(), percent: value };
    case 'window_move':
      if (row.windowSec === null) throw new Error(`rule ${row.id}: window rule without a window`);
      return { kind: 'window_move', direction: direction(), percent: value, windowSec: row.windowSec };
  }
}

const toNumber = (d: { toString(): string } | null): number | undefined => (d === null ? undefined : Number(d.toString()));
const toDecimal = (n: number | undefined): Prisma.Decimal | null => (n === undefined ? null : new Prisma.Decimal(n.toString()));

export function rowToEngineRule(row: RuleRow): EngineRule {
  const state: RuleRuntimeState = { armed: row.armed, fireCount: row.fireCount };
  const reference = toNumber(row.referencePrice);
  if (reference !== undefined) state.referencePrice = reference;
  if (row.side) state.side = row.side;
  if (row.wentBack) state.wentBack = true;
  if (row.lastFiredAt) state.lastFiredAt = row.lastFiredAt.getTime();
  return {
    id: row.id,
    exchange: row.exchange,
    pair: row.pair,
    condition: columnsToCondition(row),
    repeat: row.repeat === 'every' ? { kind: 'every', cooldownSec: row.cooldownSec ?? 0 } : { kind: 'once' },
    ...(row.expiresAt ? { expiresAt: row.expiresAt.getTime() } : {}),
    state,
  };
}

function stateColumns(state: RuleRuntimeState) {
  return {
    armed: state.armed,
    wentBack: state.wentBack ?? false,
    side: state.side ?? null,
    referencePrice: toDecimal(state.referencePrice),
    fireCount: state.fireCount,
    lastFiredAt: state.lastFiredAt === undefined ? null : new Date(state.lastFiredAt),
  };
}

export interface CreateRuleInput {
  chatId: number;
  creatorId?: string;
  spec: RuleSpec & { exchange: string };
  /** the command as typed, kept for listings */
  source: string;
  /** initial runtime state (reference price / side from the current price, when known) */
  state: RuleRuntimeState;
  maxPerChat: number;
}

/** Live rules count against the quota; fired, expired and deleted ones do not. */
const LIVE = { in: ['active', 'paused'] as const } as { in: Array<AlertRule['state']> };

export async function createRule(db: Db, input: CreateRuleInput): Promise<AlertRule> {
  const live = await db.alertRule.count({ where: { chatId: input.chatId, state: LIVE } });
  if (live >= input.maxPerChat) {
    throw new UserInputError(
      msg('alerts.quota', { count: live, max: input.maxPerChat }),
      '/delete 12',
    );
  }
  const { spec } = input;
  const columns = conditionToColumns(spec.condition);
  return db.alertRule.create({
    data: {
      chatId: input.chatId,
      creatorId: input.creatorId ?? null,
      exchange: spec.exchange,
      pair: spec.pair,
      kind: columns.kind,
      op: columns.op,
      threshold: new Prisma.Decimal(columns.threshold),
      windowSec: columns.windowSec,
      repeat: spec.repeat.kind,
      cooldownSec: spec.repeat.kind === 'every' ? spec.repeat.cooldownSec : null,
      expiresAt: spec.expiresAt ?? null,
      note: spec.note ?? null,
      source: input.source,
      ...stateColumns(input.state),
    },
  });
}

export function listChatRules(db: Db, chatId: number): Promise<AlertRule[]> {
  return db.alertRule.findMany({ where: { chatId, state: LIVE }, orderBy: { id: 'asc' } });
}

/** Marks one of this chat's rules deleted; false when the chat has no such live rule (never another chat's). */
export async function deleteChatRule(db: Db, chatId: number, id: number): Promise<AlertRule | null> {
  const rule = await db.alertRule.findFirst({ where: { id, chatId, state: LIVE } });
  if (!rule) return null;
  return db.alertRule.update({ where: { id }, data: { state: 'deleted' } });
}

export async function deleteAllChatRules(db: Db, chatId: number): Promise<AlertRule[]> {
  const rules = await listChatRules(db, chatId);
  if (rules.length) await db.alertRule.updateMany({ where: { id: { in: rules.map((r) => r.id) } }, data: { state: 'deleted' } });
  return rules;
}

/**
 * Every active rule that has not expired and is not snoozed (see loadSnoozedRules), paged by id so a million rules load in bounded memory chunks
 * rather than one giant result set.
 */
export async function loadActiveRules(
  db: Db,
  now: Date,
  opts: { pageSize?: number; onOwner?: (ruleId: number, owner: RuleOwner) => void } = {},
): Promise<EngineRule[]> {
  const pageSize = opts.pageSize ?? 50_000;
  const rules: EngineRule[] = [];
  let after = 0;
  for (;;) {
    // Raw SQL with decimals as text: the ORM's Decimal objects and full rows cost ~10× more at a million rules.
    const page = await db.$queryRaw<Array<RuleRow & RuleOwner>>`
      SELECT id, chat_id AS "chatId", note, exchange, pair, kind::text AS kind, op, threshold::text AS threshold, window_sec AS "windowSec",
             repeat::text AS repeat, cooldown_sec AS "cooldownSec", expires_at AS "expiresAt", armed,
             went_back AS "wentBack", side::text AS side, reference_price::text AS "referencePrice",
             last_fired_at AS "lastFiredAt", fire_count AS "fireCount"
        FROM alert_rules
       WHERE state = 'active' AND id > ${after} AND (expires_at IS NULL OR expires_at > ${now})
         AND (snoozed_until IS NULL OR snoozed_until <= ${now})
       ORDER BY id
       LIMIT ${pageSize}`;
    for (const row of page) {
      rules.push(rowToEngineRule(row));
      opts.onOwner?.(row.id, row);
    }
    if (page.length < pageSize) return rules;
    after = page[page.length - 1]!.id;
  }
}

/**
 * Active rules whose snooze is still running at `now`: they stay out of the engine until it ends. A
 * snooze that ran out while the bot was down is forgotten here, so its rule loads as any other.
 */
export async function loadSnoozedRules(db: Db, now: Date): Promise<Array<{ id: number; until: Date }>> {
  await db.alertRule.updateMany({ where: { snoozedUntil: { lte: now } }, data: { snoozedUntil: null } });
  const rows = await db.alertRule.findMany({ where: { state: 'active', snoozedUntil: { gt: now } }, select: { id: true, snoozedUntil: true }, orderBy: { id: 'asc' } });
  return rows.flatMap((r) => (r.snoozedUntil ? [{ id: r.id, until: r.snoozedUntil }] : []));
}

/** Persists runtime state that changed without a firing (side seen, reference taken, went back). */
export async function saveRuleStates(db: Db, states: ReadonlyMap<number, RuleRuntimeState>): Promise<void> {
  for (const [id, state] of states) {
    await db.alertRule.updateMany({ where: { id, state: 'active' }, data: stateColumns(state) });
  }
}

export function markRulesExpired(db: Db, ids: readonly number[]) {
  return db.alertRule.updateMany({ where: { id: { in: [...ids] }, state: 'active' }, data: { state: 'expired' } });
}
