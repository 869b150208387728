import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FeedError } from '../../src/errors.js';
import { withTimeout } from '../../src/lib/abort.js';
import { createLogger } from '../../src/log.js';
import { createFeed, type StreamFeed } from '../../src/market/feeds/index.js';
import type { PriceTick } from '../../src/market/types.js';
import { startFakeBinance, type FakeBinance, type FakeBinanceOptions } from '../fakes/binance.js';

/**
 * Real ccxt (REST + pro) pointed at the local fake Binance through the same URL overrides an operator
 * sets. Every wait is bounded; nothing asserts on speed.
 */

const ALL_PAIRS = ['BTC/USDT', 'ETH/USDT', 'ADA/USDT', 'LTC/USDT', 'XRP/USDT', 'DOGE/USDT', 'TRX/USDT'];
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/binance/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

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
  fake: FakeBinance;
  feed: StreamFeed;
  ticks: PriceTick[];
  logs: Array<Record<string, unknown>>;
  /** ticks of `pair` received after index `from` */
  tickAfter(from: number, pair: string, pred?: (t: PriceTick) => boolean): Promise<PriceTick>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const rig of rigs.splice(0)) {
    await withTimeout(rig.feed.stop(), 5000, 'feed.stop');
    await withTimeout(rig.fake.close(), 5000, 'fake.close');
  }
});

async function rig(opts: { staleMs?: number; baseMs?: number; fake?: FakeBinanceOptions } = {}): Promise<Rig> {
  const fake = await startFakeBinance({ emitIntervalMs: 100, ...opts.fake });
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const feed = createFeed('binance', {
    urls: { ws: fake.wsUrl, rest: fake.restUrl },
    staleMs: opts.staleMs ?? 3000,
    log,
    backoff: { baseMs: opts.baseMs ?? 50, capMs: 200 },
  });
  const ticks: PriceTick[] = [];
  feed.on('tick', (t) => void ticks.push(t));
  const r: Rig = {
    fake, feed, ticks, logs,
    tickAfter: (from, pair, pred = () => true) =>
      waitFor(() => ticks.slice(from).find((t) => t.pair === pair && pred(t)), `a ${pair} tick`),
  };
  rigs.push(r);
  return r;
}

async function streaming(r: Rig, pairs: string[]): Promise<void> {
  r.feed.start();
  for (const p of pairs) r.feed.addPair(p);
  for (const p of pairs) await r.tickAfter(0, p);
  expect(r.feed.status().state).toBe('streaming');
}

describe('binance feed: REST through the fake', () => {
  it('loads the fixture spot markets with one exchangeInfo request and nothing else', async () => {
    const { feed, fake } = await rig();
    expect([...(await feed.loadMarkets())].sort()).toEqual([...ALL_PAIRS].sort());
    await feed.loadMarkets();
    expect(fake.restHits).toEqual({ '/api/v3/exchangeInfo': 1 });
  });

  it('fetchTicker maps the recorded 24hr ticker', async () => {
    const { feed, fake } = await rig();
    const t = await feed.fetchTicker('BTC/USDT');
    expect(t).toMatchObject({ exchange: 'binance', pair: 'BTC/USDT', last: 118449.03, bid: 118449.02, ask: 118449.03, changePct24h: -0.159, source: 'rest' });
    expect(t.exchangeTs).toBeGreaterThan(0);
    expect(fake.restHits['/api/v3/ticker/24hr']).toBe(1);
    await expect(feed.fetchTicker('NOPE/USDT')).rejects.toBeInstanceOf(FeedError);
  });

  it('fetchTickers asks once for many pairs and follows setPrice', async () => {
    const { feed, fake } = await rig();
    fake.setPrice('ETHUSDT', '3210.55');
    const ticks = await feed.fetchTickers(['BTC/USDT', 'ETH/USDT', 'ADA/USDT', 'TRX/USDT']);
    expect(ticks.map((t) => t.pair).sort()).toEqual(['ADA/USDT', 'BTC/USDT', 'ETH/USDT', 'TRX/USDT']);
    expect(ticks.every((t) => t.source === 'poll')).toBe(true);
    expect(ticks.find((t) => t.pair === 'ETH/USDT')?.last).toBe(3210.55);
    expect(fake.restHits['/api/v3/ticker/24hr']).toBe(1);
  });
});

describe('binance feed: stream through the fake', () => {
  it('connects lazily, then streams the fake price for an added pair', async () => {
    const r = await rig();
    r.fake.setPrice('BTCUSDT', '120000.50');
    r.feed.start();
    await pause(150);
    expect(r.fake.connections.total).toBe(0);
    expect(r.feed.status().state).toBe('connecting');
    r.feed.addPair('BTC/USDT');
    const t = await r.tickAfter(0, 'BTC/USDT');
    expect(t).toMatchObject({ exchange: 'binance', pair: 'BTC/USDT', last: 120000.5, bid: 120000.49, ask: 120000.5, source: 'stream' });
    expect(r.feed.status()).toMatchObject({ state: 'streaming', symbols: 1, lastError: null });
    // ccxt dials <BINANCE_WS_URL>/<n>; one socket means n is always 0
    expect(r.fake.subscriptions()).toEqual([{ id: 1, path: '/stream/0', streams: ['btcusdt@ticker'] }]);
  });

  it('adds pairs to the live connection: 7 pairs, 1 socket, paced SUBSCRIBEs, nothing resubscribed', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT']);
    for (const p of ALL_PAIRS.slice(1)) {
      r.feed.addPair(p);
      await pause(40); // some adds land while a SUBSCRIBE gap is running, some after it
    }
    const from = r.ticks.length;
    for (const p of ALL_PAIRS) await r.tickAfter(from, p);
    expect(r.fake.connections).toEqual({ current: 1, total: 1 });
    expect(r.fake.subscriptions()[0]?.streams.sort()).toEqual(ALL_PAIRS.map((p) => `${p.replace('/', '').toLowerCase()}@ticker`).sort());
    const subs = r.fake.frames.filter((f) => f.method === 'SUBSCRIBE');
    const streams = subs.flatMap((f) => f.params as string[]);
    expect(new Set(streams).size).toBe(streams.length);
    expect(subs.length).toBeLessThan(ALL_PAIRS.length); // adds made during a gap share one frame
    // Binance disconnects above 5 frames/s; the fake enforces it, and the feed spaces its frames
    // (receipt times, so a loaded event loop can squeeze a 300 ms gap a little)
    for (let i = 1; i < subs.length; i++) expect(subs[i]!.at - subs[i - 1]!.at).toBeGreaterThanOrEqual(150);
  });

  it('emits a tick right after setPrice, with the 24 h change', async () => {
    const r = await rig({ fake: { emitIntervalMs: 0 } });
    r.fake.setPrice('ETHUSDT', '3000.00', { open: '3000.00' });
    r.feed.start();
    r.feed.addPair('ETH/USDT');
    await waitFor(() => r.fake.subscriptions()[0]?.streams.length === 1, 'the SUBSCRIBE');
    const from = r.ticks.length;
    r.fake.setPrice('ETHUSDT', '3210.00');
    const t = await r.tickAfter(from, 'ETH/USDT');
    expect(t.last).toBe(3210);
    expect(t.changePct24h).toBe(7);
  });

  it('removes a pair with an UNSUBSCRIBE and keeps the others streaming', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT', 'ETH/USDT', 'ADA/USDT']);
    r.feed.removePair('ETH/USDT');
    await waitFor(() => !r.fake.subscriptions()[0]?.streams.includes('ethusdt@ticker'), 'the UNSUBSCRIBE');
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
    await waitFor(() => r.logs.find((l) => String(l['msg']).includes('not listed on binance')), 'the warning');
    await r.tickAfter(r.ticks.length, 'BTC/USDT');
    expect(r.fake.connections.total).toBe(1);
  });

  it('treats a silent socket as dropped after staleMs and resumes when data flows again', async () => {
    const r = await rig({ staleMs: 300 });
    await streaming(r, ['BTC/USDT', 'ETH/USDT']);
    r.fake.stall(true);
    await waitFor(() => r.feed.status().state !== 'streaming', 'the stale verdict');
    expect(r.feed.status().lastError).toMatch(/no data for \d+ ms \(stale after 300 ms\)/);
    r.fake.stall(false);
    const from = r.ticks.length;
    await r.tickAfter(from, 'BTC/USDT');
    await r.tickAfter(from, 'ETH/USDT');
    expect(r.feed.status().state).toBe('streaming');
    expect(r.fake.connections.total).toBeGreaterThanOrEqual(2);
    await waitFor(() => r.fake.connections.current === 1, 'the stale socket to be closed');
  });

  it('reconnects after a drop and resubscribes every pair in one frame', async () => {
    const r = await rig();
    const pairs = ['BTC/USDT', 'ETH/USDT', 'XRP/USDT', 'DOGE/USDT'];
    await streaming(r, pairs);
    r.fake.dropAll();
    await waitFor(() => r.fake.connections.total === 2, 'the second connection');
    const from = r.ticks.length;
    for (const p of pairs) await r.tickAfter(from, p);
    expect(r.fake.connections.current).toBe(1);
    const second = r.fake.frames.filter((f) => f.conn === 2 && f.method === 'SUBSCRIBE');
    expect(second).toHaveLength(1);
    expect((second[0]!.params as string[]).sort()).toEqual(['btcusdt@ticker', 'dogeusdt@ticker', 'ethusdt@ticker', 'xrpusdt@ticker']);
    expect(r.feed.status().reconnects).toBe(1);
  });

  it('goes down with one log line per retry while refused, then streams again', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT']);
    r.fake.refuse(true);
    r.fake.dropAll();
    await waitFor(() => r.feed.status().state === 'down', 'state down');
    const retries = await waitFor(() => {
      const lines = r.logs.filter((l) => l['level'] === 'warn' && /^binance stream down, reconnecting in \d+\.\d s$/.test(String(l['msg'])));
      return lines.length >= 3 && lines;
    }, '3 retry lines');
    for (const line of retries) expect(line).toMatchObject({ exchange: 'binance', attempt: expect.any(Number), delayMs: expect.any(Number), err: expect.any(String) });
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

describe('the fake speaks the fixture shapes', () => {
  it('REST tickers have exactly the recorded keys', async () => {
    const { fake } = await rig();
    const one = (await (await fetch(`${fake.restUrl}/ticker/24hr?symbol=BTCUSDT`)).json()) as Record<string, unknown>;
    const all = (await (await fetch(`${fake.restUrl}/ticker/24hr`)).json()) as Array<Record<string, unknown>>;
    expect(Object.keys(one)).toEqual(Object.keys(fixture('ticker_24hr_single.json')));
    expect(Object.keys(all[0]!)).toEqual(Object.keys((fixture('ticker_24hr_array.json') as unknown as Array<Record<string, unknown>>)[0]!));
    expect(all).toHaveLength(ALL_PAIRS.length);
    const bad = await fetch(`${fake.restUrl}/ticker/24hr?symbol=NOPE`);
    expect(bad.status).toBe(400);
  });

  it('WS acks, events and the 5 frames/s limit', async () => {
    const { fake } = await rig({ fake: { emitIntervalMs: 0 } });
    const ws = new WebSocket(`${fake.wsUrl}/0`);
    const inbox: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => void inbox.push(JSON.parse(d.toString()) as Record<string, unknown>));
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
  expect(unhandled).toEqual([]);
});
