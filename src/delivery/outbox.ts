import { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../db/types.js';
import type { ChatKind, Platform } from './limits.js';
import type { NewNotification } from './notification.js';

/**
 * The transactional outbox. Rows are written in the same transaction as the rule state that produced
 * them, claimed with FOR UPDATE SKIP LOCKED (so two dispatchers never take the same row), and marked
 * sent only after the platform accepted the message.
 */

/** The channel enqueue notifies on commit, so a dispatcher in another process wakes for new rows. */
export const OUTBOX_CHANNEL = 'maxflash_outbox';

/** Where a row goes: the chat through its front, or the chat's webhook (one POST per row, never coalesced). */
export type NotificationTarget = 'chat' | 'webhook';

/** A row to enqueue; rows without a target go to the chat. */
export type OutboxRow = NewNotification & { target?: NotificationTarget };

export interface ClaimedNotification {
  id: bigint;
  target: NotificationTarget;
  chatId: number;
  platform: Platform;
  /** the chat's kind decides its send limits */
  kind: ChatKind;
  externalId: string;
  text: string;
  attempts: number;
  /** the row's structured payload (NotificationPayload), for fronts that add buttons */
  payload: unknown;
}

/** `now` is the app's clock, the same one claimDue and the retry times use (never the database's). */
export async function enqueue(db: Db, rows: readonly OutboxRow[], now: Date): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await db.notification.createMany({
    data: rows.map((r) => ({ chatId: r.chatId, ruleId: r.ruleId ?? null, dedupeKey: r.dedupeKey, text: r.text, payload: r.payload, target: r.target ?? 'chat', nextAttemptAt: now, createdAt: now })),
    skipDuplicates: true,
  });
  // Inside the caller's transaction Postgres holds the notification until commit (and drops it on
  // rollback), so a listener never wakes for rows it cannot see yet.
  if (result.count > 0) await db.$executeRawUnsafe(`NOTIFY ${OUTBOX_CHANNEL}`);
  return result.count;
}

export interface ClaimOptions {
  /** leave these platforms' rows alone (their send limit is exhausted: claiming would only put them back) */
  skipPlatforms?: readonly Platform[];
  /** at most this many rows of one chat per claim (default 100: more would not leave before the next round anyway) */
  perChat?: number;
}

/**
 * Marks due rows of active chats in flight (one attempt more) and returns them, oldest first: the chats
 * of the `limit` oldest due rows, with all their due rows (up to perChat each), so that what one chat
 * has waiting leaves together as one message rather than split by where a row limit fell.
 */
export async function claimDue(db: Db, limit: number, now: Date, opts: ClaimOptions = {}): Promise<ClaimedNotification[]> {
  // a platform's send limit does not hold back webhook rows
  const skipped = opts.skipPlatforms?.length ? Prisma.join(opts.skipPlatforms) : undefined;
  const skip = skipped ? Prisma.sql`AND (h.target = 'webhook' OR hc.platform::text NOT IN (${skipped}))` : Prisma.empty;
  // a chat picked for its webhook rows must not bring along chat rows of a skipped platform
  const skipRows = skipped ? Prisma.sql`AND (q.target = 'webhook' OR q.chat_id NOT IN (SELECT sc.id FROM chats sc WHERE sc.platform::text IN (${skipped})))` : Prisma.empty;
  // A chat with rows in flight (claimed earlier and still being sent, or handed over at birth) is left
  // out, so its newer rows cannot be sent beside, or ahead of, the older ones.
  const idle = (alias: string) => Prisma.raw(`AND NOT EXISTS (SELECT 1 FROM notifications s WHERE s.chat_id = ${alias}.chat_id AND s.target = ${alias}.target AND s.status = 'sending')`);
  // The status and due checks are repeated where the rows are locked: a row another dispatcher claimed
  // meanwhile is re-read there and dropped, while the window function (not allowed with FOR UPDATE)
  // runs a level below.
  const rows = await db.$queryRaw<Array<{ id: bigint; target: NotificationTarget; chat_id: number; platform: Platform; kind: ChatKind; external_id: string; text: string; attempts: number; payload: unknown }>>`
    UPDATE notifications n
       SET status = 'sending', attempts = n.attempts + 1
      FROM chats c
     WHERE n.chat_id = c.id
       AND n.id IN (
         SELECT l.id FROM notifications l
          WHERE l.status = 'pending' AND l.next_attempt_at <= ${now}
            AND l.id IN (
              SELECT r.id FROM (
                SELECT q.id, row_number() OVER (PARTITION BY q.chat_id, q.target ORDER BY q.id) AS k
                  FROM notifications q
                 WHERE q.status = 'pending' AND q.next_attempt_at <= ${now} ${skipRows} ${idle('q')}
                   AND q.chat_id IN (
                     SELECT h.chat_id FROM notifications h JOIN chats hc ON hc.id = h.chat_id
                      WHERE h.status = 'pending' AND h.next_attempt_at <= ${now} AND hc.active ${skip} ${idle('h')}
                      ORDER BY h.id
                      LIMIT ${limit})) r
               WHERE r.k <= ${opts.perChat ?? 100})
          FOR UPDATE SKIP LOCKED)
    RETURNING n.id, n.target::text AS target, n.chat_id, c.platform::text AS platform, c.kind::text AS kind, c.external_id, n.text, n.attempts, n.payload`;
  return rows
    .map((r) => ({ id: r.id, target: r.target, chatId: r.chat_id, platform: r.platform, kind: r.kind, externalId: r.external_id, text: r.text, attempts: r.attempts, payload: r.payload }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)); // RETURNING keeps no order; coalescing needs oldest first
}

/** When the next pending row of an active chat comes due after `after`, if any: the dispatcher sleeps until then. */
export async function nextDueAt(db: Db, after: Date): Promise<Date | null> {
  const found = await db.notification.findFirst({
    where: { status: 'pending', nextAttemptAt: { gt: after }, chat: { active: true } },
    orderBy: { nextAttemptAt: 'asc' },
    select: { nextAttemptAt: true },
  });
  return found?.nextAttemptAt ?? null;
}

export function markSent(db: Db, ids: readonly bigint[], at: Date) {
  return db.notification.updateMany({ where: { id: { in: [...ids] } }, data: { status: 'sent', sentAt: at, error: null } });
}

/** A failed attempt: the rows go back to pending until `nextAttemptAt`, keeping the attempt claimDue counted. */
export function markRetry(db: Db, ids: readonly bigint[], nextAttemptAt: Date, error: string) {
  return db.notification.updateMany({ where: { id: { in: [...ids] } }, data: { status: 'pending', nextAttemptAt, error } });
}

/**
 * Claimed rows that were never tried (their chat or platform had to wait for a send token, or the
 * dispatcher is stopping) go back to pending, and the attempt claimDue counted is taken back: waiting
 * for a turn must not use up a row's attempts.
 */
export function release(db: Db, ids: readonly bigint[], nextAttemptAt: Date) {
  return db.notification.updateMany({ where: { id: { in: [...ids] } }, data: { status: 'pending', nextAttemptAt, attempts: { decrement: 1 } } });
}

/**
 * Rows written already claimed ('sending') by an attempt whose answer never came: it may have committed,
 * yet nobody holds them. Back to pending (their attempt taken back), where a claim finds them. Safe
 * while nobody could have taken them: the writer hands claimed rows over only after a commit it saw.
 */
export async function releaseUnhanded(db: Db, dedupeKeys: readonly string[], nextAttemptAt: Date): Promise<number> {
  if (dedupeKeys.length === 0) return 0;
  const { count } = await db.notification.updateMany({
    where: { dedupeKey: { in: [...dedupeKeys] }, status: 'sending' },
    data: { status: 'pending', nextAttemptAt, attempts: { decrement: 1 } },
  });
  return count;
}

export function markFailed(db: Db, ids: readonly bigint[], error: string) {
  return db.notification.updateMany({ where: { id: { in: [...ids] } }, data: { status: 'failed', error } });
}

/**
 * Rows a crashed process left in flight go back to pending at start-up: the platform may or may not have
 * accepted them, and a rare duplicate beats a lost alert.
 */
export async function requeueInFlight(db: Db): Promise<number> {
  const result = await db.notification.updateMany({ where: { status: 'sending' }, data: { status: 'pending' } });
  return result.count;
}
