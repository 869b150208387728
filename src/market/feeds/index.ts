import { pro } from 'ccxt';
import type { ExchangeUrls } from '../../config.js';
import { FeedError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { createStreamFeed, type FeedDeps, type StreamFeed, type VenueConfig } from './base.js';
import { binanceVenue } from './binance.js';
import { bybitVenue } from './bybit.js';
import { genericVenue } from './generic.js';
import { okxVenue } from './okx.js';

export type { StreamFeed } from './base.js';

/**
 * Venues with their own file: URL overrides and quirks, one line each. Any other ccxt pro id runs through
 * the generic venue with ccxt's own URLs.
 */
const VENUES: Record<string, (urls: ExchangeUrls) => VenueConfig> = {
  binance: binanceVenue,
  bybit: bybitVenue,
  okx: okxVenue,
};

export interface CreateFeedDeps {
  urls: ExchangeUrls;
  staleMs: number;
  log: Logger;
  now?: () => number;
  /** test seams, see FeedDeps */
  backoff?: FeedDeps['backoff'];
  subscribeGapMs?: number;
  closeTimeoutMs?: number;
}

export function createFeed(exchange: string, deps: CreateFeedDeps): StreamFeed {
  const { urls, ...feedDeps } = deps;
  const venue = VENUES[exchange];
  if (venue) return createStreamFeed(venue(urls), feedDeps);
  if (!Object.hasOwn(pro, exchange)) {
    const known = Object.keys(pro);
    throw new FeedError(
      exchange,
      `not an exchange ccxt pro can stream from; use a ccxt id such as ${['binance', 'bybit', 'okx', 'kraken', 'coinbase', 'kucoin'].filter((id) => known.includes(id)).join(', ')} (${known.length} supported)`,
    );
  }
  if (urls.ws || urls.rest) {
    deps.log.warn({ exchange }, `URL overrides for ${exchange} are not applied yet; using ccxt's own endpoints`);
  }
  return createStreamFeed(genericVenue(exchange), feedDeps);
}
