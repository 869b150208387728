import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withTimeout } from '../../src/lib/abort.js';
import { bybitVenue } from '../../src/market/feeds/bybit.js';
import { startFakeBybit, type BybitFrame, type FakeBybit, type FakeBybitOptions } from '../fakes/bybit.js';
import { fixtureReader, type Json } from '../fakes/common.js';
import { describeFeedContract, feedHarness, opFrames, waitFor, type FeedVenue } from './feed-contract.js';

const fixture = fixtureReader('bybit');
const topic = (pair: string): string => `tickers.${pair.replace('/', '')}`;

const bybit: FeedVenue<FakeBybit, FakeBybitOptions> = {
  id: 'bybit',
  startFake: startFakeBybit,
  config: bybitVenue,
  // BTCUSDT is the recorded instrument; the other eleven are derived in the fake (see test/fixtures/bybit/SOURCES.md)
  pairs: ['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'LTC', 'TRX', 'DOT', 'LINK', 'AVAX', 'TON'].map((b) => `${b}/USDT`),
  symbol: (pair) => pair.replace('/', ''),
  streamName: topic,
  wireArg: topic,
  control: opFrames,
  minSubscribeGapMs: 100, // the venue's 200 ms, as receipt times on a loaded event loop may show it
  wsPath: '/v5/public/spot',
  overrideUrls: { ws: 'ws://127.0.0.1:9/v5/public/spot', rest: 'http://127.0.0.1:9' },
  rest: { markets: '/v5/market/instruments-info', ticker: '/v5/market/tickers', tickers: '/v5/market/tickers', ohlcv: '/v5/market/kline' },
  recordedTicker: { last: 20533.13, bid: 20517.96, ask: 20527.77, changePct24h: 0.68 },
  // Bybit's REST tickers carry no per-ticker time, so the tick is stamped on receipt
  restTickerUntimed: true,
  // the recorded rows, oldest first after ccxt's parse
  ohlcv: { timeframe: '1h', rows: [[1670605200000, 17071.5, 17071.5, 17061, 17071, 4177], [1670608800000, 17071, 17073, 17027, 17055.5, 268611]] },
  // the spot tickers topic has no bid/ask fields at all; only REST ticks carry them
  streamBidAsk: null,
  snapshotOnSubscribe: true,
  keepAlive: {
    kind: 'JSON ',
    heartbeats: (fake) => fake.heartbeats,
    recordedLast: 20533.13,
    afterStall: (fake) => expect(fake.frames.filter((f) => f.op === 'ping').length).toBe(fake.heartbeats),
  },
};

const h = feedHarness(bybit);
describeFeedContract(h);

const subscribes = (fake: FakeBybit, conn: number): BybitFrame[] => fake.frames.filter((f) => f.op === 'subscribe' && f.conn === conn);
const argCounts = (frames: readonly BybitFrame[]): number[] => frames.map((f) => (f.args as string[]).length);

describe('bybit feed: at most 10 topics per subscribe', () => {
  it('adds pairs to the live connection: 12 pairs, 1 socket, at most 10 topics per subscribe, nothing resubscribed', async () => {
    const r = await h.rig();
    await h.streaming(r, ['BTC/USDT']);
    // eleven adds in one go would be one 11-topic frame, which Bybit spot refuses (the fake too)
    for (const p of bybit.pairs.slice(1)) r.feed.addPair(p);
    const from = r.ticks.length;
    for (const p of bybit.pairs) await r.tickAfter(from, p);
    expect(r.fake.connections).toEqual({ current: 1, total: 1 });
    expect(r.fake.subscriptions()[0]?.streams.sort()).toEqual(bybit.pairs.map(topic).sort());
    const subs = subscribes(r.fake, 1);
    const topics = subs.flatMap((f) => f.args as string[]);
    expect(new Set(topics).size).toBe(topics.length);
    expect(argCounts(subs)).toEqual([1, 10, 1]);
    for (let i = 1; i < subs.length; i++) expect(subs[i]!.at - subs[i - 1]!.at).toBeGreaterThanOrEqual(100);
  });

  it('reconnects after a drop and resubscribes every pair, 10 topics to a frame', async () => {
    const r = await h.rig();
    await h.streaming(r, bybit.pairs);
    r.fake.dropAll();
    await waitFor(() => r.fake.connections.total === 2, 'the second connection');
    const from = r.ticks.length;
    for (const p of bybit.pairs) await r.tickAfter(from, p);
    expect(r.fake.connections.current).toBe(1);
    const second = subscribes(r.fake, 2);
    expect(argCounts(second)).toEqual([10, 2]);
    expect(second.flatMap((f) => f.args as string[]).sort()).toEqual(bybit.pairs.map(topic).sort());
    expect(r.feed.status().reconnects).toBe(1);
  });
});

describe('the fake speaks the fixture shapes', () => {
  it('REST instruments and tickers have exactly the recorded keys', async () => {
    const { fake } = await h.rig();
    type Env = { retCode: number; result: { list: Json[] } };
    const get = async (path: string): Promise<Env> => (await (await fetch(`${fake.restUrl}${path}`)).json()) as Env;
    const instruments = await get('/v5/market/instruments-info?category=spot');
    const recordedInstruments = fixture<Env>('instruments_info_spot.json');
    expect(Object.keys(instruments)).toEqual(Object.keys(recordedInstruments));
    expect(instruments.result.list[0]).toEqual(recordedInstruments.result.list[0]); // BTCUSDT verbatim
    for (const i of instruments.result.list) expect(Object.keys(i)).toEqual(Object.keys(recordedInstruments.result.list[0]!));
    const one = await get('/v5/market/tickers?category=spot&symbol=BTCUSDT');
    const all = await get('/v5/market/tickers?category=spot');
    const recordedTickers = fixture<Env>('tickers_spot.json');
    expect(Object.keys(one)).toEqual(Object.keys(recordedTickers));
    expect(Object.keys(one.result.list[0]!)).toEqual(Object.keys(recordedTickers.result.list[0]!));
    expect(all.result.list).toHaveLength(bybit.pairs.length);
    expect((await get('/v5/market/tickers?category=spot&symbol=NOPEUSDT')).retCode).toBe(10001);
    expect((await get('/v5/market/tickers?category=linear')).retCode).toBe(10001);
  });

  it('WS acks, snapshots, pong, the 10-topic limit and errors', async () => {
    const { fake } = await h.rig({ fake: { emitIntervalMs: 0 } });
    const ws = new WebSocket(fake.wsUrl);
    const inbox: Json[] = [];
    ws.on('message', (d) => void inbox.push(JSON.parse(d.toString()) as Json));
    await withTimeout(new Promise((r) => ws.once('open', r)), 3000, 'ws open');
    ws.send(JSON.stringify(fixture('ws_subscribe_request.json')));
    await waitFor(() => inbox.length === 2, 'the ack and the first snapshot');
    expect(Object.keys(inbox[0]!)).toEqual(Object.keys(fixture('ws_subscribe_success_spot.json')));
    expect(inbox[0]).toMatchObject({ success: true, ret_msg: 'subscribe', req_id: 'test', op: 'subscribe' });
    const snapshot = fixture('ws_tickers_snapshot_spot.json');
    expect(Object.keys(inbox[1]!)).toEqual(Object.keys(snapshot));
    expect(Object.keys(inbox[1]!['data'] as object)).toEqual(Object.keys(snapshot['data'] as object));
    ws.send(JSON.stringify(fixture('ws_ping_request.json')));
    await waitFor(() => inbox.length === 3, 'the pong');
    expect(Object.keys(inbox[2]!)).toEqual(Object.keys(fixture('ws_pong_spot.json')));
    expect(inbox[2]).toMatchObject({ success: true, ret_msg: 'pong', op: 'ping' });
    ws.send(JSON.stringify({ op: 'subscribe', req_id: '7', args: bybit.pairs.slice(1).map(topic) }));
    await waitFor(() => inbox.length === 4, 'the refusal');
    expect(inbox[3]).toMatchObject({ success: false, req_id: '7', op: 'subscribe' });
    expect(fake.subscriptions()[0]?.streams).toEqual(['tickers.BTCUSDT']);
    ws.send(JSON.stringify({ op: 'bogus' }));
    await waitFor(() => inbox.length === 5, 'the error');
    expect(Object.keys(inbox[4]!)).toEqual(Object.keys(fixture('ws_error_invalid_op.json')));
    ws.send(JSON.stringify({ op: 'unsubscribe', req_id: '8', args: ['tickers.BTCUSDT'] }));
    await waitFor(() => inbox.length === 6, 'the unsubscribe ack');
    expect(Object.keys(inbox[5]!)).toEqual(Object.keys(fixture('ws_unsubscribe_success.json')));
    expect(fake.subscriptions()[0]?.streams).toEqual([]);
    ws.close();
  });
});

it('let no promise rejection go unhandled during the whole file', () => {
  expect(h.unhandled).toEqual([]);
});
