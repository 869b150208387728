import { UserInputError } from '../../errors.js';
import { msg } from '../../i18n/index.js';
import { normalisePair } from '../../market/symbols.js';
import { takeExchange } from './options.js';
import type { Command } from './types.js';

/** How long a /price question keeps its pair streaming, so a follow-up is answered from the live cache. */
const INTEREST_MS = 10 * 60_000;

export const price: Command = {
  name: 'price',
  usage: 'cmd.price.usage',
  summary: 'cmd.price.summary',
  examples: ['/price BTC/USDT', '/price eth', '/price SOL-USDT on bybit'],
  async run({ args, services }) {
    const { rest, exchange } = takeExchange(args, services.config.exchanges, '/price ETH/USDT');
    const words = rest.split(/\s+/).filter(Boolean);
    if (words.length === 0) throw new UserInputError(msg('price.whichPair'), '/price BTC/USDT');
    if (words.length > 1 && !(words.length === 2 && /^[a-z0-9]+$/i.test(words[1]!) && words[1]!.length <= 10)) {
      throw new UserInputError(msg('price.onePair', { input: rest.slice(0, 40) }), '/price BTC/USDT');
    }
    const pair = normalisePair(words.join('/'), services.config.defaultQuote);
    const quote = await services.hub.quote(exchange, pair);
    services.hub.holdFor(exchange, pair, INTEREST_MS);
    return { kind: 'price', tick: quote.tick, fromRest: quote.fromRest, now: services.now() };
  },
};
