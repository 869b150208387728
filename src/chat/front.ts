/**
 * What a platform adapter promises the rest of the app. The dispatcher only ever sees this, never
 * grammY or discord.js, so retries and waits stay in one place.
 */
export type DeliveryOutcome =
  | { ok: true }
  | { ok: false; reason: 'rate_limited'; retryAfterMs: number; global?: boolean; error: string }
  | { ok: false; reason: 'forbidden' | 'not_found' | 'transient' | 'permanent'; error: string };

export interface ChatFront {
  readonly platform: 'telegram' | 'discord' | 'console';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** sends one message to a chat by its platform id; never throws, the outcome says what happened */
  send(chatId: string, text: string): Promise<DeliveryOutcome>;
}
