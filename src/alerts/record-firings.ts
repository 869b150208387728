import { Prisma } from '../generated/prisma/client.js';
import type { SqlExecutor } from '../db/client.js';
import type { ChatSettings } from '../db/chats.js';
import type { Db } from '../db/types.js';
import { OUTBOX_CHANNEL, type ClaimedNotification, type NotificationTarget, type OutboxRow } from '../delivery/outbox.js';
import type { ChatKind, Platform } from '../delivery/limits.js';
import type { RuleRuntimeState } from './types.js';

/** A rule firing's new state, as the engine left it. */
export interface RuleFiringWrite {
  ruleId: number;
  state: RuleRuntimeState;
  /** a one-shot rule: it becomes 'fired' */
  final: boolean;
  price: number;
  /**
   * What its message was worded by (from memory): the firing is written only if the rule's row and its
   * chat still say exactly this; otherwise nothing of it is written and it comes back in `stale`.
   */
  wordedBy: RuleOwner & ChatSettings;
}

/** A watch message's new reference. */
export interface WatchFiringWrite {
  watchId: number;
  price: number;
  /** ms since epoch */
  at: number;
}

/** An outbox row and the write it belongs to: it is written only if that rule (still active) or watch was. */
export type FiringMessage = OutboxRow & { watchId?: number };

export interface FiringBatch {
  rules: readonly RuleFiringWrite[];
  watches: readonly WatchFiringWrite[];
  messages: readonly FiringMessage[];
  /** the app's clock: the rows' creation and first attempt time */
  now: Date;
  /**
   * Write the messages of active chats that have nothing else waiting or in flight already claimed
   * ('sending', one attempt) for this process, and return them, so they can go out without a claim.
   */
  claim: boolean;
}

export interface RecordedFirings {
  /** new outbox rows (a message whose dedupe key exists, or whose rule was no longer active, is not one) */
  enqueued: number;
  /** the new rows written already claimed (only with `claim`) */
  claimed: ClaimedNotification[];
  /**
   * Active rules not written because their row or chat no longer matched `wordedBy` (a setting changed
   * since it was read, the rule moved with a chat merge): read them again and write them again.
   */
  stale: number[];
}

/** Whose a rule is, besides what the engine keeps of it: its chat and the note its messages carry. */
export interface RuleOwner {
  chatId: number;
  note: string | null;
}

/** A firing rule's owner, with its chat's settings (the condition comes with the firing, from the engine). */
export interface FiringRuleDetails extends RuleOwner, ChatSettings {
  id: number;
}

/**
 * The rows of firing rules that are not deleted, with their chat's timezone, language and webhook state, in one
 * round trip (the ORM's nested select took three: rules, chats, webhooks). The ids go in as an array the
 * planner can probe the primary key with, whatever it guesses about the JSON's length.
 */
export async function firingRuleDetails(db: Db, ruleIds: readonly number[]): Promise<FiringRuleDetails[]> {
  if (ruleIds.length === 0) return [];
  return db.$queryRaw<FiringRuleDetails[]>`/* prepared */
    SELECT r.id, r.chat_id AS "chatId", r.note, c.timezone, c.kind::text AS "chatKind", c.language, c.user_language AS "userLanguage",
           COALESCE(w.active, false) AS "webhookActive"
      FROM alert_rules r
      JOIN chats c ON c.id = r.chat_id
      LEFT JOIN webhooks w ON w.chat_id = r.chat_id
     WHERE r.id = ANY (ARRAY(SELECT value::int FROM jsonb_array_elements_text(${JSON.stringify(ruleIds)}::jsonb)))
       AND r.state <> 'deleted'`;
}

/**
 * A decimal as the ORM's Decimal writes it ("200", not the column's "200.000000000000000000", which is
 * what rules loaded at start-up hold): messages quote it.
 */
export function canonicalDecimal(text: string): string {
  return new Prisma.Decimal(text).toString();
}

const decimal = (n: number | undefined): string | null => (n === undefined ? null : n.toString());
const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * Records a tick's firings in ONE statement: the rules' new state, the watches' new references and the
 * outbox rows, all or nothing, as a transaction would, but in a single round trip instead of the five or
 * more of an interactive transaction (the firing's share of a tick → Telegram was ~5 ms of ~8).
 *
 * A message is inserted only if its rule's row was still active, still worded as `wordedBy` says, and
 * updated (a rule deleted or paused while its firing waited gets no message; one whose chat changed its
 * settings comes back in `stale`), or its watch still exists; the dedupe key keeps a retried batch from
 * enqueueing a firing twice. A NOTIFY goes out with the commit when a row was left pending for a claim
 * (rows written claimed are this process's already: waking every dispatcher for them only cost a claim).
 * Inputs travel as JSON, one parameter per kind, so the statement is the same for 1 or 250 firings, and is
 * prepared once per connection. `db` may be the driver itself (Database.sql), skipping the ORM.
 */
export async function recordFirings(db: Db | SqlExecutor, batch: FiringBatch): Promise<RecordedFirings> {
  const rules = JSON.stringify(
    batch.rules.map((r) => ({
      id: r.ruleId,
      armed: r.state.armed,
      went_back: r.state.wentBack ?? false,
      side: r.state.side ?? null,
      reference_price: decimal(r.state.referencePrice),
      fire_count: r.state.fireCount,
      last_fired_at: iso(r.state.lastFiredAt),
      last_price: decimal(r.price),
      final: r.final,
      chat_id: r.wordedBy.chatId,
      note: r.wordedBy.note,
      timezone: r.wordedBy.timezone,
      language: r.wordedBy.language,
      user_language: r.wordedBy.userLanguage,
      chat_kind: r.wordedBy.chatKind,
      webhook: r.wordedBy.webhookActive,
    })),
  );
  const watches = JSON.stringify(batch.watches.map((w) => ({ id: w.watchId, reference_price: decimal(w.price), at: iso(w.at) })));
  const messages = JSON.stringify(
    batch.messages.map((m, ord) => ({
      ord,
      chat_id: m.chatId,
      rule_id: m.ruleId ?? null,
      watch_id: m.watchId ?? null,
      dedupe_key: m.dedupeKey,
      text: m.text,
      payload: m.payload,
      target: m.target ?? 'chat',
    })),
  );
  const now = batch.now;
  // The "= ANY (ARRAY(…))" beside each join is for the planner: it cannot see how many rows a JSON input
  // holds, and on a big table without fresh statistics it scanned every rule (~4 ms at 20 000) instead of
  // probing the primary key. Every sub-statement sees the same snapshot, so "nothing else waiting or in flight" is judged on the
  // rows before this batch; two messages of one batch for one chat are both claimed and leave together.
  const query = Prisma.sql`/* prepared */
    WITH fired AS (
      UPDATE alert_rules r
         SET armed = x.armed, went_back = x.went_back, side = x.side::"Side", reference_price = x.reference_price::numeric,
             fire_count = x.fire_count, last_fired_at = x.last_fired_at::timestamptz, last_price = x.last_price::numeric,
             state = CASE WHEN x.final THEN 'fired'::"RuleState" ELSE r.state END, updated_at = ${now}::timestamptz
        FROM jsonb_to_recordset(${rules}::jsonb) AS x(id int, armed boolean, went_back boolean, side text, reference_price text,
             fire_count int, last_fired_at text, last_price text, final boolean, chat_id int, note text, timezone text,
             language text, user_language text, chat_kind text, webhook boolean),
             chats c LEFT JOIN webhooks w ON w.chat_id = c.id
       WHERE r.id = x.id AND r.state = 'active' AND r.id = ANY (ARRAY(SELECT (e->>'id')::int FROM jsonb_array_elements(${rules}::jsonb) e))
         AND c.id = r.chat_id AND c.id = ANY (ARRAY(SELECT (e->>'chat_id')::int FROM jsonb_array_elements(${rules}::jsonb) e))
         AND r.chat_id = x.chat_id AND r.note IS NOT DISTINCT FROM x.note AND c.kind::text = x.chat_kind
         AND c.timezone IS NOT DISTINCT FROM x.timezone AND c.language IS NOT DISTINCT FROM x.language
         AND c.user_language IS NOT DISTINCT FROM x.user_language AND COALESCE(w.active, false) = x.webhook
      RETURNING r.id),
    stale AS (
      SELECT r.id FROM alert_rules r
       WHERE r.id = ANY (ARRAY(SELECT (e->>'id')::int FROM jsonb_array_elements(${rules}::jsonb) e))
         AND r.state = 'active' AND r.id NOT IN (SELECT id FROM fired)),
    moved AS (
      UPDATE watches w
         SET reference_price = x.reference_price::numeric, last_notified_at = x.at::timestamptz
        FROM jsonb_to_recordset(${watches}::jsonb) AS x(id int, reference_price text, at text)
       WHERE w.id = x.id AND w.id = ANY (ARRAY(SELECT (e->>'id')::int FROM jsonb_array_elements(${watches}::jsonb) e))
      RETURNING w.id),
    msg AS (
      SELECT m.*, (${batch.claim}::boolean AND c.active AND NOT EXISTS (
               SELECT 1 FROM notifications o
                WHERE o.chat_id = m.chat_id AND o.target::text = m.target AND o.status IN ('pending', 'sending'))) AS claim
        FROM jsonb_to_recordset(${messages}::jsonb) AS m(ord int, chat_id int, rule_id int, watch_id int, dedupe_key text, text text, payload jsonb, target text)
        JOIN chats c ON c.id = m.chat_id
       WHERE c.id = ANY (ARRAY(SELECT (e->>'chat_id')::int FROM jsonb_array_elements(${messages}::jsonb) e))
         AND (m.rule_id IS NULL OR m.rule_id IN (SELECT id FROM fired))
         AND (m.watch_id IS NULL OR m.watch_id IN (SELECT id FROM moved))),
    ins AS (
      INSERT INTO notifications (chat_id, rule_id, dedupe_key, text, payload, status, target, attempts, next_attempt_at, created_at)
      SELECT m.chat_id, m.rule_id, m.dedupe_key, m.text, m.payload,
             (CASE WHEN m.claim THEN 'sending' ELSE 'pending' END)::"NotificationStatus", m.target::"NotificationTarget",
             CASE WHEN m.claim THEN 1 ELSE 0 END, ${now}::timestamptz, ${now}::timestamptz
        FROM msg m
       ORDER BY m.ord
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING id, chat_id, target, text, attempts, payload, status),
    notified AS (SELECT pg_notify(${OUTBOX_CHANNEL}, '') FROM (SELECT 1 FROM ins WHERE status = 'pending' LIMIT 1) one)
    SELECT s.stale, (SELECT count(*) FROM notified) AS notified, i.*
      FROM (SELECT COALESCE(array_agg(id), '{}') AS stale FROM stale) s
      LEFT JOIN (
        SELECT i.id, i.target::text AS target, i.chat_id, c.platform::text AS platform, c.kind::text AS kind, c.external_id,
               i.text, i.attempts, i.payload, i.status::text AS status
          FROM ins i JOIN chats c ON c.id = i.chat_id
         WHERE c.id = ANY (ARRAY(SELECT (e->>'chat_id')::int FROM jsonb_array_elements(${messages}::jsonb) e))) i ON true
     ORDER BY i.id`;
  type Row = { stale: number[]; notified: bigint | string; id: bigint | string | null; target: NotificationTarget; chat_id: number; platform: Platform; kind: ChatKind; external_id: string; text: string; attempts: number; payload: unknown; status: string };
  const rows = typeof db === 'function' ? await db<Row>(query.text, query.values) : await db.$queryRaw<Row[]>(query);
  // one row even when nothing was inserted (it carries `stale`), with the inserted columns null
  const inserted = rows.filter((r) => r.id !== null);
  const claimed = inserted
    .filter((r) => r.status === 'sending')
    .map((r) => ({ id: BigInt(r.id!), target: r.target, chatId: r.chat_id, platform: r.platform, kind: r.kind, externalId: r.external_id, text: r.text, attempts: r.attempts, payload: r.payload }));
  return { enqueued: inserted.length, claimed, stale: rows[0]?.stale ?? [] };
}
