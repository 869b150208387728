import type { ExchangeUrls } from '../../config.js';
import type { VenueConfig } from './base.js';

/**
 * Binance spot: only what differs from the shared loop.
 * BINANCE_WS_URL replaces `urls.api.ws.spot` and BINANCE_REST_URL `urls.api.public` verbatim. ccxt dials
 * `<ws>/<n>` and treats a socket as spot only if its URL contains "/stream" (the real host is
 * stream.binance.com), so a local override looks like ws://127.0.0.1:PORT/stream.
 */
export function binanceVenue(urls: ExchangeUrls = {}): VenueConfig {
  const api: Record<string, unknown> = {};
  if (urls.rest) {
    // private shares the /api/v3 root; nothing we call uses it, but nothing should reach the real host either
    api['public'] = urls.rest;
    api['private'] = urls.rest;
  }
  if (urls.ws) api['ws'] = { spot: urls.ws };
  return {
    id: 'binance',
    settings: {
      urls: { api },
      options: {
        // loadMarkets would also ask the futures hosts, which BINANCE_REST_URL does not replace
        fetchMarkets: { types: ['spot'] },
        fetchMargins: false,
        // the full 24hrTicker carries bid/ask; watchTickers defaults to miniTicker, and unWatchTickers
        // reads the same option, so both must name the stream we subscribe
        watchTicker: { name: 'ticker' },
        watchTickers: { name: 'ticker' },
        // streamLimits is the number of sockets ccxt spreads subscriptions over (round robin), not
        // symbols per socket: 1 keeps every pair on one connection, up to Binance's 1024 streams
        streamLimits: { spot: 1 },
        subscriptionLimitByStream: { spot: 1024 },
      },
    },
    // 5 incoming frames/s per connection (pongs count): one frame per 300 ms leaves room for them
    subscribeGapMs: 300,
    // ccxt refuses ws:// URLs until its plain-HTTP agent is loaded
    prepareStream: async (exchange) => {
      if (urls.ws?.startsWith('ws://')) await exchange.loadHttpProxyAgent();
    },
  };
}
