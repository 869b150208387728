import { z } from 'zod';

/**
 * What the outbox carries besides the rendered text: enough to re-render or coalesce a message later
 * (several firings for one chat waiting at once) without joining back to rules that may be deleted.
 */
export const AlertPayload = z.object({
  kind: z.literal('alert'),
  ruleId: z.number().int(),
  exchange: z.string(),
  pair: z.string(),
  /** English text of the condition, e.g. "SOL/USDT above 200" (webhook receivers read it; chats get their own wording) */
  condition: z.string(),
  price: z.number(),
  /** tick time, ms since epoch */
  at: z.number(),
  source: z.enum(['stream', 'poll', 'gapfill', 'rest']),
  note: z.string().optional(),
  final: z.boolean(),
  /** the language the text was worded in, so buttons added at sending match it; absent on older rows → en */
  language: z.enum(['en', 'ru']).optional(),
});
export type AlertPayload = z.infer<typeof AlertPayload>;

export const NoticePayload = z.object({ kind: z.literal('notice') });

export const NotificationPayload = z.discriminatedUnion('kind', [AlertPayload, NoticePayload]);
export type NotificationPayload = z.infer<typeof NotificationPayload>;

export interface NewNotification {
  chatId: number;
  ruleId?: number;
  /** unique per logical message: a retried transaction cannot enqueue the same firing twice */
  dedupeKey: string;
  text: string;
  payload: NotificationPayload;
}
