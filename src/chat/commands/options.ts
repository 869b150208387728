import { UserInputError } from '../../errors.js';
import { msg } from '../../i18n/index.js';
import type { CommandServices } from './types.js';

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
    throw new UserInputError(msg('exchange.notEnabled', { exchange, enabled: enabled.join(', ') }), example);
  }
  return { rest: match[1]!.trim(), exchange };
}

/**
 * The alerts service, or a friendly "still starting" error: it appears only once the database is open,
 * while /price already works. `what` names the feature in the message.
 */
export function alertsReady(services: CommandServices, what: 'alerts' | 'watchlist' | 'settings'): NonNullable<CommandServices['alerts']> {
  if (!services.alerts) throw new UserInputError(msg(`starting.${what}`));
  return services.alerts;
}
