import type { ExchangeUrls } from '../../config.js';
import type { VenueConfig } from './base.js';

/** Every REST root ccxt 4.5.84 keeps for Bybit; all point at the same host (api.bybit.com). */
const REST_KEYS = ['spot', 'futures', 'v2', 'public', 'private'] as const;

/**
 * Bybit v5 spot: only what differs from the shared loop.
 * BYBIT_WS_URL replaces `urls.api.ws.public.spot` verbatim (ccxt dials it as is, so a local override
 * looks like ws://127.0.0.1:PORT/v5/public/spot); BYBIT_REST_URL replaces every REST root in `urls.api`,
 * to which ccxt appends `/v5/...`, so it is a bare origin such as http://127.0.0.1:PORT.
 */
export function bybitVenue(urls: ExchangeUrls = {}): VenueConfig {
  const api: Record<string, unknown> = {};
  // the private root is never called without keys, but nothing should reach the real host either
  if (urls.rest) for (const key of REST_KEYS) api[key] = urls.rest;
  if (urls.ws) api['ws'] = { public: { spot: urls.ws } };
  return {
    id: 'bybit',
    settings: {
      urls: { api },
      options: {
        // loadMarkets would also ask for linear, inverse and six option books: four more hosts' worth of
        // requests BYBIT_REST_URL would have to answer, for markets we never stream
        fetchMarkets: { types: ['spot'] },
        // ccxt defaults Bybit to swap (category=linear); a call that names no symbol must mean spot
        defaultType: 'spot',
      },
    },
    // Bybit documents no inbound message rate for public streams; spread frames a little anyway so a
    // resubscribe of many pairs (in chunks of 10, below) is not one burst
    subscribeGapMs: 200,
    // "Spot accepts at most 10 args per subscribe request" (v5 ws connect doc); ccxt sends all topics of
    // one watchTickers call in one frame, so the feed must split
    maxPairsPerFrame: 10,
    // ccxt refuses ws:// URLs until its plain-HTTP agent is loaded
    prepareStream: async (exchange) => {
      if (urls.ws?.startsWith('ws://')) await exchange.loadHttpProxyAgent();
    },
  };
}
