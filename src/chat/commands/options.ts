import { UserInputError } from '../../errors.js';

/**
 * Splits a trailing "on <exchange>" off command arguments ("ETH/USDT on okx"), checking the exchange is
 * enabled. Shared by every command that takes a pair.
 */
export function takeExchange(args: string, enabled: readonly string[], example: string): { rest: string; exchange: string } {
  const match = /^(.*?)(?:^|\s+)on\s+([A-Za-z0-9]+)\s*$/i.exec(args.trim());
  const fallback = enabled[0];
  if (fallback === undefined) throw new Error('no exchange is enabled'); // config guarantees one
  if (!match) return { rest: args.trim(), exchange: fallback };
  const exchange = match[2]!.toLowerCase();
  if (!enabled.includes(exchange)) {
    throw new UserInputError(`${exchange} is not enabled on this bot. Enabled: ${enabled.join(', ')}.`, example);
  }
  return { rest: match[1]!.trim(), exchange };
}
