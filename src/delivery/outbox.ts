import type { Db } from '../db/types.js';
import type { NewNotification } from './notification.js';

/**
 * The transactional outbox. Rows are written in the same transaction as the rule state that produced
 * them, claimed with FOR UPDATE SKIP LOCKED (so two dispatchers never take the same row), and marked
 * sent only after the platform accepted the message.
 */

export interface ClaimedNotification {
  id: bigint;
  chatId: number;
  platform: 'telegram' | 'discord' | 'console';
  externalId: string;
  text: string;
  attempts: number;
}

/** `now` is the app's clock, the same one claimDue and the retry times use (never the database's). */
export async function enqueue(db: Db, rows: readonly NewNotification[], now: Date): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await db.notification.createMany({
    data: rows.map((r) => ({ chatId: r.chatId, ruleId: r.ruleId ?? null, dedupeKey: r.dedupeKey, text: r.text, payload: r.payload, nextAttemptAt: now, createdAt: now })),
    skipDuplicates: true,
  });
  return result.count;
}

/** Takes up to `limit` due rows of active chats, oldest first, and marks them in flight. */
export async function claimDue(db: Db, limit: number, now: Date): Promise<ClaimedNotification[]> {
  const rows = await db.$queryRaw<Array<{ id: bigint; chat_id: number; platform: ClaimedNotification['platform']; external_id: string; text: string; attempts: number }>>`
    UPDATE notifications n
       SET status = 'sending', attempts = n.attempts + 1
      FROM chats c
     WHERE n.chat_id = c.id
       AND n.id IN (
         SELECT q.id FROM notifications q JOIN chats qc ON qc.id = q.chat_id
          WHERE q.status = 'pending' AND q.next_attempt_at <= ${now} AND qc.active
          ORDER BY q.id
          LIMIT ${limit}
          FOR UPDATE OF q SKIP LOCKED)
    RETURNING n.id, n.chat_id, c.platform::text AS platform, c.external_id, n.text, n.attempts`;
  return rows.map((r) => ({ id: r.id, chatId: r.chat_id, platform: r.platform, externalId: r.external_id, text: r.text, attempts: r.attempts }));
}

export function markSent(db: Db, id: bigint, at: Date) {
  return db.notification.update({ where: { id }, data: { status: 'sent', sentAt: at, error: null } });
}

export function markRetry(db: Db, id: bigint, nextAttemptAt: Date, error: string) {
  return db.notification.update({ where: { id }, data: { status: 'pending', nextAttemptAt, error } });
}

export function markFailed(db: Db, id: bigint, error: string) {
  return db.notification.update({ where: { id }, data: { status: 'failed', error } });
}

/**
 * Rows a crashed process left in flight go back to pending at start-up: the platform may or may not have
 * accepted them, and a rare duplicate beats a lost alert.
 */
export async function requeueInFlight(db: Db): Promise<number> {
  const result = await db.notification.updateMany({ where: { status: 'sending' }, data: { status: 'pending' } });
  return result.count;
}
