/**
 * What a platform adapter promises the rest of the app. The dispatcher only ever sees this, never
 * grammY or discord.js, so retries and waits stay in one place.
 */
export type DeliveryOutcome =
  | { ok: true }
  | { ok: false; reason: 'rate_limited'; retryAfterMs: number; global?: boolean; error: string }
  | { ok: false; reason: 'forbidden' | 'not_found' | 'transient' | 'permanent'; error: string }
  /** the chat lives on under another id (a Telegram group upgraded to a supergroup): move it and send there */
  | { ok: false; reason: 'migrated'; to: string; error: string };

/**
 * A button under a message. `data` comes back verbatim when it is pressed (see commands/buttons.ts for
 * what it encodes); platforms cap it (Telegram: 64 bytes), so it stays a short token, never a payload.
 */
export interface Button {
  label: string;
  data: string;
}

/** Rows of buttons, top to bottom. */
export type ButtonRows = ReadonlyArray<ReadonlyArray<Button>>;

export interface SendOptions {
  /** a platform without buttons sends the text alone; the text must make sense without them */
  buttons?: ButtonRows;
}

export interface ChatFront {
  readonly platform: 'telegram' | 'discord' | 'console';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** sends one message to a chat by its platform id; never throws, the outcome says what happened */
  send(chatId: string, text: string, options?: SendOptions): Promise<DeliveryOutcome>;
}
