import { readFileSync } from 'node:fs';
import ccxt, { type Exchange } from 'ccxt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FeedError } from '../../src/errors.js';
import { withTimeout } from '../../src/lib/abort.js';
import { createLogger } from '../../src/log.js';
import { bybitVenue } from '../../src/market/feeds/bybit.js';
import { createFeed, type StreamFeed } from '../../src/market/feeds/index.js';
import type { PriceTick } from '../../src/market/types.js';
import { startFakeBybit, type FakeBybit, type FakeBybitOptions } from '../fakes/bybit.js';

/**
 * Real ccxt (REST + pro) pointed at the local fake Bybit through the same URL overrides an operator
 * sets. Every wait is bounded; nothing asserts on speed.
 */

// BTCUSDT is the recorded instrument; the other eleven are derived in the fake (see test/fixtures/bybit/SOURCES.md)
const ALL_PAIRS = ['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'LTC', 'TRX', 'DOT', 'LINK', 'AVAX', 'TON'].map((b) => `${b}/USDT`);
const topic = (pair: string): string => `tickers.${pair.replace('/', '')}`;
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/bybit/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeAll(() => void process.on('unhandledRejection', recordUnhandled));
afterAll(() => void process.off('unhandledRejection', recordUnhandled));

async function waitFor<T>(probe: () => T | undefined | false | null, what: string, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false && value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Rig {
  fake: FakeBybit;
  feed: StreamFeed;
  ticks: PriceTick[];
  logs: Array<Record<string, unknown>>;
  /** ticks of `pair` received after index `from` */
  tickAfter(from: number, pair: string, pred?: (t: PriceTick) => boolean): Promise<PriceTick>;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await withTimeout(cleanup(), 5000, 'cleanup');
});

async function rig(opts: { staleMs?: number; baseMs?: number; fake?: FakeBybitOptions } = {}): Promise<Rig> {
  const fake = await startFakeBybit({ emitIntervalMs: 100, ...opts.fake });
  cleanups.push(() => fake.close());
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const feed = createFeed('bybit', {
    urls: { ws: fake.wsUrl, rest: fake.restUrl },
    staleMs: opts.staleMs ?? 3000,
    log,
    backoff: { baseMs: opts.baseMs ?? 50, capMs: 200 },
  });
  cleanups.push(() => feed.stop());
  const ticks: PriceTick[] = [];
  feed.on('tick', (t) => void ticks.push(t));
  return {
    fake, feed, ticks, logs,
    tickAfter: (from, pair, pred = () => true) =>
      waitFor(() => ticks.slice(from).find((t) => t.pair === pair && pred(t)), `a ${pair} tick`),
  };
}

async function streaming(r: Rig, pairs: string[]): Promise<void> {
  r.feed.start();
  for (const p of pairs) r.feed.addPair(p);
  for (const p of pairs) await r.tickAfter(0, p);
  expect(r.feed.status().state).toBe('streaming');
}

const subscribes = (fake: FakeBybit, conn?: number) => fake.frames.filter((f) => f.op === 'subscribe' && (conn === undefined || f.conn === conn));

describe('bybit feed: REST through the fake', () => {
  it('loads the spot markets with one instruments-info request and nothing else', async () => {
    const { feed, fake } = await rig();
    expect([...(await feed.loadMarkets())].sort()).toEqual([...ALL_PAIRS].sort());
    await feed.loadMarkets();
    // linear/inverse/option books and the coin-info endpoint were never asked for
    expect(fake.restHits).toEqual({ '/v5/market/instruments-info': 1 });
  });

  it('fetchTicker maps the recorded spot ticker', async () => {
    const { feed, fake } = await rig();
    const t = await feed.fetchTicker('BTC/USDT');
    expect(t).toMatchObject({ exchange: 'bybit', pair: 'BTC/USDT', last: 20533.13, bid: 20517.96, ask: 20527.77, changePct24h: 0.68, source: 'rest' });
    // Bybit's REST tickers carry no per-ticker time, so the tick is stamped on receipt
    expect(t.exchangeTs).toBe(t.receivedAt);
    expect(fake.restHits['/v5/market/tickers']).toBe(1);
    await expect(feed.fetchTicker('NOPE/USDT')).rejects.toBeInstanceOf(FeedError);
  });

  it('fetchTickers asks once for many pairs and follows setPrice', async () => {
    const { feed, fake } = await rig();
    fake.setPrice('ETHUSDT', '3210.55');
    const ticks = await feed.fetchTickers(['BTC/USDT', 'ETH/USDT', 'ADA/USDT', 'TON/USDT']);
    expect(ticks.map((t) => t.pair).sort()).toEqual(['ADA/USDT', 'BTC/USDT', 'ETH/USDT', 'TON/USDT']);
    expect(ticks.every((t) => t.source === 'poll')).toBe(true);
    expect(ticks.find((t) => t.pair === 'ETH/USDT')).toMatchObject({ last: 3210.55, ask: 3210.55, bid: 3210.54 });
    expect(fake.restHits['/v5/market/tickers']).toBe(1);
  });

  it('routes fetchOHLCV to the fake with the venue settings', async () => {
    const { fake } = await rig();
    const ex = new ccxt.bybit(bybitVenue({ rest: fake.restUrl, ws: fake.wsUrl }).settings);
    const rows = await ex.fetchOHLCV('ETH/USDT', '1h', undefined, 2);
    // the recorded rows, oldest first after ccxt's parse
    expect(rows).toEqual([[1670605200000, 17071.5, 17071.5, 17061, 17071, 4177], [1670608800000, 17071, 17073, 17027, 17055.5, 268611]]);
    expect(fake.restHits).toEqual({ '/v5/market/instruments-info': 1, '/v5/market/kline': 1 });
  });
});

describe('bybit feed: stream through the fake', () => {
  it('connects lazily, then streams the fake price for an added pair', async () => {
    const r = await rig();
    r.fake.setPrice('BTCUSDT', '120000.5');
    r.feed.start();
    await pause(150);
    expect(r.fake.connections.total).toBe(0);
    expect(r.feed.status().state).toBe('connecting');
    r.feed.addPair('BTC/USDT');
    const t = await r.tickAfter(0, 'BTC/USDT');
    expect(t).toMatchObject({ exchange: 'bybit', pair: 'BTC/USDT', last: 120000.5, source: 'stream' });
    // the spot tickers topic has no bid/ask fields at all; only REST ticks carry them
    expect(t.bid).toBeUndefined();
    expect(t.ask).toBeUndefined();
    expect(t.exchangeTs).toBeGreaterThan(0);
    expect(r.feed.status()).toMatchObject({ state: 'streaming', symbols: 1, lastError: null });
    expect(r.fake.subscriptions()).toEqual([{ id: 1, path: '/v5/public/spot', streams: ['tickers.BTCUSDT'] }]);
  });

  it('adds pairs to the live connection: 12 pairs, 1 socket, at most 10 topics per subscribe, nothing resubscribed', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT']);
    // eleven adds in one go would be one 11-topic frame, which Bybit spot refuses (the fake too)
    for (const p of ALL_PAIRS.slice(1)) r.feed.addPair(p);
    const from = r.ticks.length;
    for (const p of ALL_PAIRS) await r.tickAfter(from, p);
    expect(r.fake.connections).toEqual({ current: 1, total: 1 });
    expect(r.fake.subscriptions()[0]?.streams.sort()).toEqual(ALL_PAIRS.map(topic).sort());
    const subs = subscribes(r.fake);
    const topics = subs.flatMap((f) => f.args as string[]);
    expect(new Set(topics).size).toBe(topics.length);
    expect(subs.map((f) => (f.args as string[]).length)).toEqual([1, 10, 1]);
    for (let i = 1; i < subs.length; i++) expect(subs[i]!.at - subs[i - 1]!.at).toBeGreaterThanOrEqual(100);
  });

  it('emits a tick right after setPrice, with the 24 h change', async () => {
    const r = await rig({ fake: { emitIntervalMs: 0 } });
    r.fake.setPrice('ETHUSDT', '3000.00', { open: '3000.00' });
    r.feed.start();
    r.feed.addPair('ETH/USDT');
    await r.tickAfter(0, 'ETH/USDT'); // Bybit sends a snapshot right after the subscribe ack
    const from = r.ticks.length;
    r.fake.setPrice('ETHUSDT', '3210.00');
    const t = await r.tickAfter(from, 'ETH/USDT');
    expect(t.last).toBe(3210);
    expect(t.changePct24h).toBe(7);
  });

  it('removes a pair with an unsubscribe and keeps the others streaming', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT', 'ETH/USDT', 'ADA/USDT']);
    r.feed.removePair('ETH/USDT');
    await waitFor(() => !r.fake.subscriptions()[0]?.streams.includes('tickers.ETHUSDT'), 'the unsubscribe');
    expect(r.fake.frames.filter((f) => f.op === 'unsubscribe').map((f) => f.args)).toEqual([['tickers.ETHUSDT']]);
    const from = r.ticks.length;
    await r.tickAfter(from, 'BTC/USDT');
    await r.tickAfter(from, 'ADA/USDT');
    await pause(300);
    expect(r.ticks.slice(from).some((t) => t.pair === 'ETH/USDT')).toBe(false);
    expect(r.fake.connections.total).toBe(1);
    expect([...r.feed.pairs()].sort()).toEqual(['ADA/USDT', 'BTC/USDT']);
  });

  it('skips a pair the exchange does not list without dropping the socket', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT']);
    r.feed.addPair('NOPE/USDT');
    await waitFor(() => r.logs.find((l) => String(l['msg']).includes('not listed on bybit')), 'the warning');
    await r.tickAfter(r.ticks.length, 'BTC/USDT');
    expect(r.fake.connections.total).toBe(1);
  });

  it('treats a socket that only answers heartbeats as dropped after staleMs and resumes when data flows again', async () => {
    const r = await rig({ staleMs: 300 });
    await streaming(r, ['BTC/USDT', 'ETH/USDT']);
    const stalledAt = Date.now();
    r.fake.stall(true);
    await waitFor(() => r.feed.status().state !== 'streaming', 'the stale verdict');
    const detectedMs = Date.now() - stalledAt;
    expect(detectedMs).toBeGreaterThanOrEqual(250);
    expect(r.feed.status().lastError).toMatch(/no data for \d+ ms \(stale after 300 ms\)/);
    r.fake.stall(false);
    const from = r.ticks.length;
    await r.tickAfter(from, 'BTC/USDT');
    await r.tickAfter(from, 'ETH/USDT');
    expect(r.feed.status().state).toBe('streaming');
    expect(r.fake.connections.total).toBeGreaterThanOrEqual(2);
    await waitFor(() => r.fake.connections.current === 1, 'the stale socket to be closed');
  });

  it('reconnects after a drop and resubscribes every pair, 10 topics to a frame', async () => {
    const r = await rig();
    await streaming(r, ALL_PAIRS);
    r.fake.dropAll();
    await waitFor(() => r.fake.connections.total === 2, 'the second connection');
    const from = r.ticks.length;
    for (const p of ALL_PAIRS) await r.tickAfter(from, p);
    expect(r.fake.connections.current).toBe(1);
    const second = subscribes(r.fake, 2);
    expect(second.map((f) => (f.args as string[]).length)).toEqual([10, 2]);
    expect(second.flatMap((f) => f.args as string[]).sort()).toEqual(ALL_PAIRS.map(topic).sort());
    expect(r.feed.status().reconnects).toBe(1);
  });

  it('goes down with one log line per retry while refused, then streams again', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT']);
    r.fake.refuse(true);
    r.fake.dropAll();
    await waitFor(() => r.feed.status().state === 'down', 'state down');
    const retries = await waitFor(() => {
      const lines = r.logs.filter((l) => l['level'] === 'warn' && /^bybit stream down, reconnecting in \d+\.\d s$/.test(String(l['msg'])));
      return lines.length >= 3 && lines;
    }, '3 retry lines');
    for (const line of retries) expect(line).toMatchObject({ exchange: 'bybit', attempt: expect.any(Number), delayMs: expect.any(Number), err: expect.any(String) });
    expect(retries.map((l) => l['attempt'])).toEqual(retries.map((_, i) => i + 1));
    expect(r.feed.status().nextRetryAt).not.toBeNull();
    r.fake.refuse(false);
    await r.tickAfter(r.ticks.length, 'BTC/USDT');
    expect(r.feed.status()).toMatchObject({ state: 'streaming', lastError: null });
  });

  it('keeps ticking when a listener throws', async () => {
    const r = await rig();
    let thrown = 0;
    r.feed.on('tick', () => {
      thrown++;
      throw new Error('listener bug');
    });
    await streaming(r, ['BTC/USDT']);
    const from = r.ticks.length;
    await r.tickAfter(from, 'BTC/USDT');
    await waitFor(() => r.ticks.length >= from + 3, 'three more ticks');
    expect(thrown).toBeGreaterThanOrEqual(3);
    expect(r.logs.some((l) => l['level'] === 'error' && l['err'] === 'Error: listener bug')).toBe(true);
  });

  it('stops promptly, closes the socket and emits nothing after', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT', 'ETH/USDT']);
    await withTimeout(r.feed.stop(), 3000, 'stop while streaming');
    const count = r.ticks.length;
    await waitFor(() => r.fake.connections.current === 0, 'the socket to close');
    await pause(250);
    expect(r.ticks.length).toBe(count);
  });

  it('stops promptly while waiting out a long backoff', async () => {
    const r = await rig({ baseMs: 20_000 });
    r.fake.refuse(true);
    r.feed.start();
    r.feed.addPair('BTC/USDT');
    await waitFor(() => r.feed.status().nextRetryAt, 'a scheduled retry');
    await withTimeout(r.feed.stop(), 3000, 'stop during backoff');
  });
});

describe('ccxt pro bybit against the fake', () => {
  it("keeps its own ping/pong alive through a stall: the fake's pong is the one ccxt recognises", async () => {
    const fake = await startFakeBybit({ emitIntervalMs: 50 });
    cleanups.push(() => fake.close());
    // ccxt pings every 18 s and gives up after two missed pongs; 100 ms makes that observable here
    const ex: Exchange = new ccxt.pro.bybit({ ...bybitVenue({ rest: fake.restUrl, ws: fake.wsUrl }).settings, streaming: { keepAlive: 100 } });
    cleanups.push(() => ex.close());
    await ex.loadHttpProxyAgent();
    expect((await ex.watchTicker('BTC/USDT')).last).toBe(20533.13);
    fake.stall(true);
    await pause(700);
    expect(fake.heartbeats).toBeGreaterThanOrEqual(3);
    expect(fake.frames.filter((f) => f.op === 'ping').length).toBe(fake.heartbeats);
    fake.stall(false);
    fake.setPrice('BTCUSDT', '20600');
    expect((await withTimeout(ex.watchTicker('BTC/USDT'), 3000, 'a ticker after the stall')).last).toBe(20600);
    expect(fake.connections).toEqual({ current: 1, total: 1 });
  });
});

describe('the fake speaks the fixture shapes', () => {
  it('REST instruments and tickers have exactly the recorded keys', async () => {
    const { fake } = await rig();
    type Env = { retCode: number; result: { list: Array<Record<string, unknown>> } };
    const get = async (path: string): Promise<Env> => (await (await fetch(`${fake.restUrl}${path}`)).json()) as Env;
    const instruments = await get('/v5/market/instruments-info?category=spot');
    const recordedInstruments = fixture('instruments_info_spot.json') as unknown as Env;
    expect(Object.keys(instruments)).toEqual(Object.keys(recordedInstruments));
    expect(instruments.result.list[0]).toEqual(recordedInstruments.result.list[0]); // BTCUSDT verbatim
    for (const i of instruments.result.list) expect(Object.keys(i)).toEqual(Object.keys(recordedInstruments.result.list[0]!));
    const one = await get('/v5/market/tickers?category=spot&symbol=BTCUSDT');
    const all = await get('/v5/market/tickers?category=spot');
    const recordedTickers = fixture('tickers_spot.json') as unknown as Env;
    expect(Object.keys(one)).toEqual(Object.keys(recordedTickers));
    expect(Object.keys(one.result.list[0]!)).toEqual(Object.keys(recordedTickers.result.list[0]!));
    expect(all.result.list).toHaveLength(ALL_PAIRS.length);
    expect((await get('/v5/market/tickers?category=spot&symbol=NOPEUSDT')).retCode).toBe(10001);
    expect((await get('/v5/market/tickers?category=linear')).retCode).toBe(10001);
  });

  it('WS acks, snapshots, pong, the 10-topic limit and errors', async () => {
    const { fake } = await rig({ fake: { emitIntervalMs: 0 } });
    const ws = new WebSocket(fake.wsUrl);
    const inbox: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => void inbox.push(JSON.parse(d.toString()) as Record<string, unknown>));
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
    ws.send(JSON.stringify({ op: 'subscribe', req_id: '7', args: ALL_PAIRS.slice(1).map(topic) }));
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

describe('feed registry', () => {
  it('builds bybit from its venue file and applies the URL overrides without the generic warning', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    const feed = createFeed('bybit', { urls: { ws: 'ws://127.0.0.1:9/v5/public/spot', rest: 'http://127.0.0.1:9' }, staleMs: 1000, log });
    expect(feed.exchange).toBe('bybit');
    expect(logs.some((l) => String(l['msg']).includes('not applied'))).toBe(false);
    await withTimeout(feed.stop(), 3000, 'stop an idle feed');
  });
});

it('let no promise rejection go unhandled during the whole file', () => {
  expect(unhandled).toEqual([]);
});
