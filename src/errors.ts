/**
 * The few error classes the app throws on purpose. Each carries the context an operator (or, for
 * UserInputError, a chat user) needs to act on it; anything else reaching a boundary is a bug.
 */
import { render, type Text } from './i18n/index.js';

/** One or more environment variables are missing or malformed; `problems` lists every one of them. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Bad input from a chat user. It carries a catalogue message (key and parameters) so the reply can be
 * rendered in the chat's language; `message` is the English rendering, for logs and tests.
 */
export class UserInputError extends Error {
  override readonly name = 'UserInputError';
  constructor(
    readonly text: Text,
    /** a correct example the reply can show, e.g. "/price BTC/USDT" */
    readonly example?: string,
  ) {
    super(render('en', text));
  }

  /** The same mistake with an example fit for another command (a pair error inside /watch shows /watch). */
  withExample(example: string): UserInputError {
    return new UserInputError(this.text, example);
  }
}

/** A market-data source (stream or REST) failed; `exchange` says which venue. */
export class FeedError extends Error {
  override readonly name = 'FeedError';
  constructor(
    readonly exchange: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${exchange}: ${message}`, options);
  }
}

/** A chat platform refused or failed a send. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    readonly platform: string,
    readonly chat: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${platform} chat ${chat}: ${message}`, options);
  }
}

/** A short, single-line description of any thrown value, for logs and status pages. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    // Prisma's known-request errors can arrive with an empty message and only a code (e.g. P2028)
    const code = (err as { code?: unknown }).code;
    const message = err.message.trim() || (typeof code === 'string' ? `code ${code}` : '(no message)');
    const text = `${err.name}: ${message}${err.message.trim() && typeof code === 'string' && !message.includes(code) ? ` [${code}]` : ''}`;
    return text.split('\n').find((line) => line.trim() !== '')!.slice(0, 300);
  }
  return String(err).slice(0, 300);
}
