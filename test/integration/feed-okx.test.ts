import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withTimeout } from '../../src/lib/abort.js';
import { okxVenue } from '../../src/market/feeds/okx.js';
import { fixtureReader, type Json } from '../fakes/common.js';
import { startFakeOkx, type FakeOkx, type FakeOkxOptions } from '../fakes/okx.js';
import { describeFeedContract, feedHarness, opFrames, waitFor, type FeedVenue } from './feed-contract.js';

const fixture = fixtureReader('okx');
const instId = (pair: string): string => pair.replace('/', '-');
const arg = (pair: string): { channel: string; instId: string } => ({ channel: 'tickers', instId: instId(pair) });

const okx: FeedVenue<FakeOkx, FakeOkxOptions> = {
  id: 'okx',
  startFake: startFakeOkx,
  config: okxVenue,
  // BTC-USDT is the recorded instrument; the other six are derived in the fake (see test/fixtures/okx/SOURCES.md)
  pairs: ['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'LTC'].map((b) => `${b}/USDT`),
  symbol: instId,
  streamName: (pair) => `tickers:${instId(pair)}`,
  wireArg: arg,
  control: opFrames,
  // the venue's 7.5 s keeps OKX's 480 subscribes/hour; tests use 200 ms unless they check the pacing
  testFeedDeps: { subscribeGapMs: 200 },
  minSubscribeGapMs: 100,
  // ccxt dials <OKX_WS_URL>/public for the tickers channel
  wsPath: '/ws/v5/public',
  overrideUrls: { ws: 'ws://127.0.0.1:9/ws/v5', rest: 'http://127.0.0.1:9' },
  rest: { markets: '/api/v5/public/instruments', ticker: '/api/v5/market/ticker', tickers: '/api/v5/market/tickers', ohlcv: '/api/v5/market/candles' },
  // OKX sends no change field: ccxt derives it from open24h (31697) and last
  recordedTicker: { last: 31500.1, bid: 31500, ask: 31500.1, changePct24h: expect.closeTo(((31500.1 - 31697) / 31697) * 100, 6) },
  changeDerived: true,
  // the recorded rows, oldest first after ccxt's parse; spot volume is index 5 (base currency)
  ohlcv: { timeframe: '1m', rows: [[1678928700000, 24324.1, 24347.6, 24321.7, 24341.4, 2565], [1678928760000, 24341.4, 24344, 24313.2, 24323, 628]] },
  streamBidAsk: { bid: 120000.4, ask: 120000.5 },
  snapshotOnSubscribe: true,
  keepAlive: {
    kind: 'text ',
    heartbeats: (fake) => fake.heartbeats,
    recordedLast: 31500.1,
    // ccxt's okx watchTicker looks the market up before anything loads markets (the feed shares them in)
    beforeWatch: (ex) => ex.loadMarkets(),
  },
};

const h = feedHarness(okx);
describeFeedContract(h);

describe('okx feed: subscribe pacing', () => {
  it("paces subscribes at the venue's 7.5 s by default: later adds wait and share one frame", async () => {
    const r = await h.rig({ pacing: 'venue' });
    await h.streaming(r, ['BTC/USDT']);
    const added = ['ETH/USDT', 'SOL/USDT', 'XRP/USDT'];
    for (const p of added) r.feed.addPair(p);
    for (const p of added) await waitFor(() => r.ticks.find((t) => t.pair === p), `a ${p} tick`, 12_000);
    const subs = opFrames(r.fake, 'subscribe');
    expect(subs.map((f) => f.args)).toEqual([[arg('BTC/USDT')], added.map(arg)]);
    expect(subs[1]!.at - subs[0]!.at).toBeGreaterThanOrEqual(7000);
  }, 20_000);
});

describe('the fake speaks the fixture shapes', () => {
  it('REST instruments and tickers have exactly the recorded keys', async () => {
    const { fake } = await h.rig();
    type Env = { code: string; msg: string; data: Json[] };
    const get = async (path: string): Promise<Env> => (await (await fetch(`${fake.restUrl}${path}`)).json()) as Env;
    const instruments = await get('/api/v5/public/instruments?instType=SPOT');
    const recorded = fixture<Env>('instruments_spot.json');
    expect(Object.keys(instruments)).toEqual(Object.keys(recorded));
    expect(instruments.data[0]).toEqual(recorded.data[0]); // BTC-USDT verbatim
    for (const i of instruments.data) expect(Object.keys(i)).toEqual(Object.keys(recorded.data[0]!));
    const one = await get('/api/v5/market/ticker?instId=BTC-USDT');
    const all = await get('/api/v5/market/tickers?instType=SPOT');
    expect(Object.keys(one.data[0]!)).toEqual(Object.keys(fixture<Env>('ticker_single.json').data[0]!));
    expect(Object.keys(all.data[0]!)).toEqual(Object.keys(fixture<Env>('tickers_spot.json').data[0]!));
    expect(all.data).toHaveLength(okx.pairs.length);
    for (const v of Object.values(one.data[0]!)) expect(typeof v).toBe('string');
    expect((await get('/api/v5/market/ticker?instId=NOPE-USDT')).code).toBe('51001');
  });

  it('WS subscribe events, pushes, the text pong and errors', async () => {
    const { fake } = await h.rig({ fake: { emitIntervalMs: 0 } });
    const ws = new WebSocket(`${fake.wsUrl}/public`);
    const inbox: string[] = [];
    ws.on('message', (d) => void inbox.push(d.toString()));
    const json = (i: number): Json => JSON.parse(inbox[i]!) as Json;
    await withTimeout(new Promise((r) => ws.once('open', r)), 3000, 'ws open');
    ws.send(JSON.stringify(fixture('ws_subscribe_request.json')));
    await waitFor(() => inbox.length === 2, 'the event and the first push');
    const event = json(0);
    expect(Object.keys(event)).toEqual(Object.keys(fixture('ws_subscribe_event.json')));
    expect(event['arg']).toEqual({ channel: 'tickers', instId: 'BTC-USDT' });
    const push = fixture('ws_tickers_push.json');
    expect(Object.keys(json(1))).toEqual(Object.keys(push));
    expect(Object.keys((json(1)['data'] as object[])[0]!)).toEqual(Object.keys((push['data'] as object[])[0]!));
    ws.send(readFileSync(new URL('../fixtures/okx/ws_ping.txt', import.meta.url), 'utf8'));
    await waitFor(() => inbox.length === 3, 'the pong');
    expect(inbox[2]).toBe(readFileSync(new URL('../fixtures/okx/ws_pong.txt', import.meta.url), 'utf8'));
    ws.send(JSON.stringify({ op: 'subscribe', args: [{ channel: 'tickers', instId: 'NOPE-USDT' }] }));
    await waitFor(() => inbox.length === 4, 'the error');
    expect(Object.keys(json(3))).toEqual(Object.keys(fixture('ws_error_event.json')));
    expect(json(3)).toMatchObject({ event: 'error', code: '60018' });
    ws.send(JSON.stringify({ op: 'unsubscribe', args: [{ channel: 'tickers', instId: 'BTC-USDT' }] }));
    await waitFor(() => inbox.length === 5, 'the unsubscribe event');
    expect(json(4)).toMatchObject({ event: 'unsubscribe', arg: { channel: 'tickers', instId: 'BTC-USDT' } });
    expect(fake.subscriptions()[0]?.streams).toEqual([]);
    ws.close();
  });
});

it('let no promise rejection go unhandled during the whole file', () => {
  expect(h.unhandled).toEqual([]);
});
