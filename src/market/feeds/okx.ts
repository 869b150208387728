import type { ExchangeUrls } from '../../config.js';
import type { VenueConfig } from './base.js';

/**
 * OKX v5 spot: only what differs from the shared loop.
 * OKX_WS_URL replaces `urls.api.ws`, the root ccxt appends `/public` (tickers) or `/business` (candles)
 * to, so a local override looks like ws://127.0.0.1:PORT/ws/v5. OKX_REST_URL replaces `urls.api.rest`,
 * to which ccxt appends `/api/v5/...`: a bare origin such as http://127.0.0.1:PORT.
 */
export function okxVenue(urls: ExchangeUrls = {}): VenueConfig {
  const api: Record<string, unknown> = {};
  if (urls.rest) api['rest'] = urls.rest;
  if (urls.ws) api['ws'] = urls.ws;
  return {
    id: 'okx',
    settings: {
      urls: { api },
      options: {
        // loadMarkets would also fetch FUTURES, SWAP and two OPTION instrument lists we never stream
        fetchMarkets: { types: ['spot'] },
        defaultType: 'spot',
      },
    },
    // OKX allows 480 subscribe/unsubscribe/login requests per hour per connection; one frame per 7.5 s
    // can never exceed that, and pairs added meanwhile ride in the next frame. A reconnect starts a new
    // count and resubscribes everything in one frame, so only pairs added later ever wait.
    subscribeGapMs: 7500,
    // one subscribe may carry at most 64 KB of args (~40 bytes per pair)
    maxPairsPerFrame: 1000,
    // ccxt refuses ws:// URLs until its plain-HTTP agent is loaded
    prepareStream: async (exchange) => {
      if (urls.ws?.startsWith('ws://')) await exchange.loadHttpProxyAgent();
    },
  };
}
