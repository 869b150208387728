import { afterAll, beforeAll } from 'vitest';

/**
 * Records every unhandled promise rejection while the calling test file runs (call at its top level);
 * the file asserts the list is empty at the end. ccxt can reject promises nobody awaits, so every file
 * that drives real sockets checks this.
 */
export function recordUnhandledRejections(): readonly unknown[] {
  const unhandled: unknown[] = [];
  const record = (reason: unknown): void => void unhandled.push(reason);
  beforeAll(() => void process.on('unhandledRejection', record));
  afterAll(() => void process.off('unhandledRejection', record));
  return unhandled;
}
