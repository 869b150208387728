import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FeedError } from '../../src/errors.js';
import { withTimeout } from '../../src/lib/abort.js';
import { createLogger } from '../../src/log.js';
import { binanceVenue } from '../../src/market/feeds/binance.js';
import { createFeed } from '../../src/market/feeds/index.js';
import { startFakeBinance, type FakeBinance, type FakeBinanceOptions } from '../fakes/binance.js';
import { fixtureReader, type Json } from '../fakes/common.js';
import { describeFeedContract, feedHarness, waitFor, type FeedVenue } from './feed-contract.js';

const fixture = fixtureReader('binance');
const stream = (pair: string): string => `${pair.replace('/', '').toLowerCase()}@ticker`;

const binance: FeedVenue<FakeBinance, FakeBinanceOptions> = {
  id: 'binance',
  startFake: startFakeBinance,
  config: binanceVenue,
  pairs: ['BTC/USDT', 'ETH/USDT', 'ADA/USDT', 'LTC/USDT', 'XRP/USDT', 'DOGE/USDT', 'TRX/USDT'],
  symbol: (pair) => pair.replace('/', ''),
  streamName: stream,
  wireArg: stream,
  control: (fake, op) => fake.frames.filter((f) => f.method === op.toUpperCase()).map(({ conn, at, params }) => ({ conn, at, args: params as unknown[] })),
  // Binance disconnects above 5 frames/s; the fake enforces it, and the feed spaces its frames 300 ms apart
  // (receipt times, so a loaded event loop can squeeze a gap a little)
  minSubscribeGapMs: 150,
  // ccxt dials <BINANCE_WS_URL>/<n> and takes a socket for spot only if its URL has /stream in it; one socket means n is always 0
  wsPath: '/stream/0',
  overrideUrls: { ws: 'ws://127.0.0.1:9/stream', rest: 'http://127.0.0.1:9/api/v3' },
  rest: { markets: '/api/v3/exchangeInfo', ticker: '/api/v3/ticker/24hr', tickers: '/api/v3/ticker/24hr', ohlcv: '/api/v3/klines' },
  recordedTicker: { last: 118449.03, bid: 118449.02, ask: 118449.03, changePct24h: -0.159 },
  // the two recorded rows (not in time order in the fixture), oldest first after ccxt's parse
  ohlcv: {
    timeframe: '1m',
    rows: [[1499040000000, 0.0163479, 0.8, 0.015758, 0.015771, 148976.11427815], [1591478520000, 0.025013, 0.025018, 0.025, 0.025, 22.19]],
  },
  streamBidAsk: { bid: 120000.49, ask: 120000.5 },
  snapshotOnSubscribe: false,
};

const h = feedHarness(binance);
describeFeedContract(h);

describe('the fake speaks the fixture shapes', () => {
  it('REST tickers have exactly the recorded keys', async () => {
    const { fake } = await h.rig();
    const one = (await (await fetch(`${fake.restUrl}/ticker/24hr?symbol=BTCUSDT`)).json()) as Json;
    const all = (await (await fetch(`${fake.restUrl}/ticker/24hr`)).json()) as Json[];
    expect(Object.keys(one)).toEqual(Object.keys(fixture('ticker_24hr_single.json')));
    expect(Object.keys(all[0]!)).toEqual(Object.keys(fixture<Json[]>('ticker_24hr_array.json')[0]!));
    expect(all).toHaveLength(binance.pairs.length);
    const bad = await fetch(`${fake.restUrl}/ticker/24hr?symbol=NOPE`);
    expect(bad.status).toBe(400);
  });

  it('WS acks, events and the 5 frames/s limit', async () => {
    const { fake } = await h.rig({ fake: { emitIntervalMs: 0 } });
    const ws = new WebSocket(`${fake.wsUrl}/0`);
    const inbox: Json[] = [];
    ws.on('message', (d) => void inbox.push(JSON.parse(d.toString()) as Json));
    await withTimeout(new Promise((r) => ws.once('open', r)), 3000, 'ws open');
    ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['ethusdt@ticker', 'ethusdt@miniTicker'], id: 1 }));
    await waitFor(() => inbox.length === 1, 'the ack');
    expect(inbox[0]).toEqual(fixture('ws_subscribe_result.json'));
    fake.setPrice('ETHUSDT', '3001.00');
    await waitFor(() => inbox.length === 3, 'two events');
    const ticker = inbox.find((m) => m['stream'] === 'ethusdt@ticker')!;
    const mini = inbox.find((m) => m['stream'] === 'ethusdt@miniTicker')!;
    expect(Object.keys(ticker)).toEqual(Object.keys(fixture('ws_combined_24hrTicker.json')));
    expect(Object.keys(ticker['data'] as object)).toEqual(Object.keys(fixture('ws_24hrTicker.json')));
    expect(Object.keys(mini['data'] as object)).toEqual(Object.keys(fixture('ws_24hrMiniTicker.json')));
    ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 3 }));
    await waitFor(() => inbox.length === 4, 'the list');
    expect(inbox[3]).toEqual({ result: ['ethusdt@ticker', 'ethusdt@miniTicker'], id: 3 });
    const closed = new Promise((r) => ws.once('close', r));
    for (let i = 0; i < 6; i++) ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 10 + i }));
    await withTimeout(closed, 3000, 'the fake to drop a flooding client');
  });
});

describe('feed registry', () => {
  it('names supported ids when an exchange is unknown, and builds any other ccxt pro id generically', async () => {
    const log = createLogger('silent');
    expect(() => createFeed('nosuchexchange', { urls: {}, staleMs: 1000, log })).toThrow(/binance, bybit, okx/);
    expect(() => createFeed('nosuchexchange', { urls: {}, staleMs: 1000, log })).toThrow(FeedError);
    const kraken = createFeed('kraken', { urls: {}, staleMs: 1000, log });
    expect(kraken.exchange).toBe('kraken');
    await withTimeout(kraken.stop(), 3000, 'stop an idle feed');
  });
});

it('let no promise rejection go unhandled during the whole file', () => {
  expect(h.unhandled).toEqual([]);
});
