import { readFileSync } from 'node:fs';
import ccxt, { type Exchange } from 'ccxt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FeedError } from '../../src/errors.js';
import { withTimeout } from '../../src/lib/abort.js';
import { createLogger } from '../../src/log.js';
import { createFeed, type StreamFeed } from '../../src/market/feeds/index.js';
import { okxVenue } from '../../src/market/feeds/okx.js';
import type { PriceTick } from '../../src/market/types.js';
import { startFakeOkx, type FakeOkx, type FakeOkxOptions } from '../fakes/okx.js';

/**
 * Real ccxt (REST + pro) pointed at the local fake OKX through the same URL overrides an operator
 * sets. Every wait is bounded; nothing asserts on speed.
 */

// BTC-USDT is the recorded instrument; the other six are derived in the fake (see test/fixtures/okx/SOURCES.md)
const ALL_PAIRS = ['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'LTC'].map((b) => `${b}/USDT`);
const stream = (pair: string): string => `tickers:${pair.replace('/', '-')}`;
const arg = (pair: string): { channel: string; instId: string } => ({ channel: 'tickers', instId: pair.replace('/', '-') });
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/okx/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

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
  fake: FakeOkx;
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

/** subscribeGapMs: the venue's 7.5 s keeps OKX's 480 subscribes/hour; tests use 200 ms unless they check the pacing. */
async function rig(opts: { staleMs?: number; baseMs?: number; subscribeGapMs?: number | 'venue'; fake?: FakeOkxOptions } = {}): Promise<Rig> {
  const fake = await startFakeOkx({ emitIntervalMs: 100, ...opts.fake });
  cleanups.push(() => fake.close());
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const feed = createFeed('okx', {
    urls: { ws: fake.wsUrl, rest: fake.restUrl },
    staleMs: opts.staleMs ?? 3000,
    log,
    backoff: { baseMs: opts.baseMs ?? 50, capMs: 200 },
    ...(opts.subscribeGapMs === 'venue' ? {} : { subscribeGapMs: opts.subscribeGapMs ?? 200 }),
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

const subscribes = (fake: FakeOkx, conn?: number) => fake.frames.filter((f) => f.op === 'subscribe' && (conn === undefined || f.conn === conn));

describe('okx feed: REST through the fake', () => {
  it('loads the spot markets with one instruments request and nothing else', async () => {
    const { feed, fake } = await rig();
    expect([...(await feed.loadMarkets())].sort()).toEqual([...ALL_PAIRS].sort());
    await feed.loadMarkets();
    // FUTURES, SWAP and OPTION lists and the (private) currencies endpoint were never asked for
    expect(fake.restHits).toEqual({ '/api/v5/public/instruments': 1 });
  });

  it('fetchTicker maps the recorded BTC-USDT ticker', async () => {
    const { feed, fake } = await rig();
    const t = await feed.fetchTicker('BTC/USDT');
    // OKX sends no change field: ccxt derives it from open24h (31697) and last
    expect(t).toMatchObject({ exchange: 'okx', pair: 'BTC/USDT', last: 31500.1, bid: 31500, ask: 31500.1, source: 'rest' });
    expect(t.changePct24h).toBeCloseTo(((31500.1 - 31697) / 31697) * 100, 6);
    expect(t.exchangeTs).toBeGreaterThan(0);
    expect(fake.restHits['/api/v5/market/ticker']).toBe(1);
    await expect(feed.fetchTicker('NOPE/USDT')).rejects.toBeInstanceOf(FeedError);
  });

  it('fetchTickers asks once for many pairs and follows setPrice', async () => {
    const { feed, fake } = await rig();
    fake.setPrice('ETH-USDT', '3210.55');
    const ticks = await feed.fetchTickers(['BTC/USDT', 'ETH/USDT', 'ADA/USDT', 'LTC/USDT']);
    expect(ticks.map((t) => t.pair).sort()).toEqual(['ADA/USDT', 'BTC/USDT', 'ETH/USDT', 'LTC/USDT']);
    expect(ticks.every((t) => t.source === 'poll')).toBe(true);
    expect(ticks.find((t) => t.pair === 'ETH/USDT')).toMatchObject({ last: 3210.55, ask: 3210.55, bid: 3210.54 });
    expect(fake.restHits['/api/v5/market/tickers']).toBe(1);
  });

  it('routes fetchOHLCV to the fake with the venue settings', async () => {
    const { fake } = await rig();
    const ex = new ccxt.okx(okxVenue({ rest: fake.restUrl, ws: fake.wsUrl }).settings);
    const rows = await ex.fetchOHLCV('ETH/USDT', '1m', undefined, 2);
    // the recorded rows, oldest first after ccxt's parse; spot volume is index 5 (base currency)
    expect(rows).toEqual([[1678928700000, 24324.1, 24347.6, 24321.7, 24341.4, 2565], [1678928760000, 24341.4, 24344, 24313.2, 24323, 628]]);
    expect(fake.restHits).toEqual({ '/api/v5/public/instruments': 1, '/api/v5/market/candles': 1 });
  });
});

describe('okx feed: stream through the fake', () => {
  it('connects lazily, then streams the fake price for an added pair', async () => {
    const r = await rig();
    r.fake.setPrice('BTC-USDT', '120000.5');
    r.feed.start();
    await pause(150);
    expect(r.fake.connections.total).toBe(0);
    expect(r.feed.status().state).toBe('connecting');
    r.feed.addPair('BTC/USDT');
    const t = await r.tickAfter(0, 'BTC/USDT');
    expect(t).toMatchObject({ exchange: 'okx', pair: 'BTC/USDT', last: 120000.5, bid: 120000.4, ask: 120000.5, source: 'stream' });
    expect(r.feed.status()).toMatchObject({ state: 'streaming', symbols: 1, lastError: null });
    // ccxt dials <OKX_WS_URL>/public for the tickers channel
    expect(r.fake.subscriptions()).toEqual([{ id: 1, path: '/ws/v5/public', streams: ['tickers:BTC-USDT'] }]);
  });

  it('adds pairs to the live connection: 7 pairs, 1 socket, paced subscribes, nothing resubscribed', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT']);
    for (const p of ALL_PAIRS.slice(1)) {
      r.feed.addPair(p);
      await pause(40); // some adds land while a subscribe gap is running, some after it
    }
    const from = r.ticks.length;
    for (const p of ALL_PAIRS) await r.tickAfter(from, p);
    expect(r.fake.connections).toEqual({ current: 1, total: 1 });
    expect(r.fake.subscriptions()[0]?.streams.sort()).toEqual(ALL_PAIRS.map(stream).sort());
    const subs = subscribes(r.fake);
    const ids = subs.flatMap((f) => (f.args as Array<{ instId: string }>).map((a) => a.instId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(subs.length).toBeLessThan(ALL_PAIRS.length); // adds made during a gap share one frame
    for (let i = 1; i < subs.length; i++) expect(subs[i]!.at - subs[i - 1]!.at).toBeGreaterThanOrEqual(100);
  });

  it("paces subscribes at the venue's 7.5 s by default: later adds wait and share one frame", async () => {
    const r = await rig({ subscribeGapMs: 'venue' });
    await streaming(r, ['BTC/USDT']);
    const added = ['ETH/USDT', 'SOL/USDT', 'XRP/USDT'];
    for (const p of added) r.feed.addPair(p);
    for (const p of added) await waitFor(() => r.ticks.find((t) => t.pair === p), `a ${p} tick`, 12_000);
    const subs = subscribes(r.fake);
    expect(subs.map((f) => f.args)).toEqual([[arg('BTC/USDT')], added.map(arg)]);
    expect(subs[1]!.at - subs[0]!.at).toBeGreaterThanOrEqual(7000);
  }, 20_000);

  it('emits a tick right after setPrice, with the 24 h change', async () => {
    const r = await rig({ fake: { emitIntervalMs: 0 } });
    r.fake.setPrice('ETH-USDT', '3000.00', { open: '3000.00' });
    r.feed.start();
    r.feed.addPair('ETH/USDT');
    await r.tickAfter(0, 'ETH/USDT'); // the fake pushes the current ticker right after the subscribe event
    const from = r.ticks.length;
    r.fake.setPrice('ETH-USDT', '3210.00');
    const t = await r.tickAfter(from, 'ETH/USDT');
    expect(t.last).toBe(3210);
    expect(t.changePct24h).toBeCloseTo(7, 9);
  });

  it('removes a pair with an unsubscribe and keeps the others streaming', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT', 'ETH/USDT', 'ADA/USDT']);
    r.feed.removePair('ETH/USDT');
    await waitFor(() => !r.fake.subscriptions()[0]?.streams.includes('tickers:ETH-USDT'), 'the unsubscribe');
    expect(r.fake.frames.filter((f) => f.op === 'unsubscribe').map((f) => f.args)).toEqual([[arg('ETH/USDT')]]);
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
    await waitFor(() => r.logs.find((l) => String(l['msg']).includes('not listed on okx')), 'the warning');
    await r.tickAfter(r.ticks.length, 'BTC/USDT');
    expect(r.fake.connections.total).toBe(1);
  });

  it('treats a socket that only answers heartbeats as dropped after staleMs and resumes when data flows again', async () => {
    const r = await rig({ staleMs: 300 });
    await streaming(r, ['BTC/USDT', 'ETH/USDT']);
    const stalledAt = Date.now();
    r.fake.stall(true);
    await waitFor(() => r.feed.status().state !== 'streaming', 'the stale verdict');
    expect(Date.now() - stalledAt).toBeGreaterThanOrEqual(250);
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
    const r = await rig({ subscribeGapMs: 'venue' }); // a reconnect must not wait out the 7.5 s gap
    const pairs = ['BTC/USDT', 'ETH/USDT', 'XRP/USDT', 'DOGE/USDT'];
    await streaming(r, pairs);
    r.fake.dropAll();
    await waitFor(() => r.fake.connections.total === 2, 'the second connection');
    const from = r.ticks.length;
    for (const p of pairs) await r.tickAfter(from, p);
    expect(r.fake.connections.current).toBe(1);
    const second = subscribes(r.fake, 2);
    expect(second).toHaveLength(1);
    expect(second[0]!.args).toEqual(pairs.map(arg));
    expect(r.feed.status().reconnects).toBe(1);
  });

  it('goes down with one log line per retry while refused, then streams again', async () => {
    const r = await rig();
    await streaming(r, ['BTC/USDT']);
    r.fake.refuse(true);
    r.fake.dropAll();
    await waitFor(() => r.feed.status().state === 'down', 'state down');
    const retries = await waitFor(() => {
      const lines = r.logs.filter((l) => l['level'] === 'warn' && /^okx stream down, reconnecting in \d+\.\d s$/.test(String(l['msg'])));
      return lines.length >= 3 && lines;
    }, '3 retry lines');
    for (const line of retries) expect(line).toMatchObject({ exchange: 'okx', attempt: expect.any(Number), delayMs: expect.any(Number), err: expect.any(String) });
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

describe('ccxt pro okx against the fake', () => {
  it("keeps its own text ping/pong alive through a stall: the fake's pong is the one ccxt recognises", async () => {
    const fake = await startFakeOkx({ emitIntervalMs: 50 });
    cleanups.push(() => fake.close());
    // ccxt pings every 18 s and gives up after two missed pongs; 100 ms makes that observable here
    const ex: Exchange = new ccxt.pro.okx({ ...okxVenue({ rest: fake.restUrl, ws: fake.wsUrl }).settings, streaming: { keepAlive: 100 } });
    cleanups.push(() => ex.close());
    await ex.loadHttpProxyAgent();
    // ccxt's okx watchTicker looks the market up before anything loads markets (the feed shares them in)
    await ex.loadMarkets();
    expect((await ex.watchTicker('BTC/USDT')).last).toBe(31500.1);
    fake.stall(true);
    await pause(700);
    expect(fake.heartbeats).toBeGreaterThanOrEqual(3);
    fake.stall(false);
    fake.setPrice('BTC-USDT', '31600');
    expect((await withTimeout(ex.watchTicker('BTC/USDT'), 3000, 'a ticker after the stall')).last).toBe(31600);
    expect(fake.connections).toEqual({ current: 1, total: 1 });
  });
});

describe('the fake speaks the fixture shapes', () => {
  it('REST instruments and tickers have exactly the recorded keys', async () => {
    const { fake } = await rig();
    type Env = { code: string; msg: string; data: Array<Record<string, unknown>> };
    const get = async (path: string): Promise<Env> => (await (await fetch(`${fake.restUrl}${path}`)).json()) as Env;
    const instruments = await get('/api/v5/public/instruments?instType=SPOT');
    const recorded = fixture('instruments_spot.json') as unknown as Env;
    expect(Object.keys(instruments)).toEqual(Object.keys(recorded));
    expect(instruments.data[0]).toEqual(recorded.data[0]); // BTC-USDT verbatim
    for (const i of instruments.data) expect(Object.keys(i)).toEqual(Object.keys(recorded.data[0]!));
    const one = await get('/api/v5/market/ticker?instId=BTC-USDT');
    const all = await get('/api/v5/market/tickers?instType=SPOT');
    expect(Object.keys(one.data[0]!)).toEqual(Object.keys((fixture('ticker_single.json') as unknown as Env).data[0]!));
    expect(Object.keys(all.data[0]!)).toEqual(Object.keys((fixture('tickers_spot.json') as unknown as Env).data[0]!));
    expect(all.data).toHaveLength(ALL_PAIRS.length);
    for (const v of Object.values(one.data[0]!)) expect(typeof v).toBe('string');
    expect((await get('/api/v5/market/ticker?instId=NOPE-USDT')).code).toBe('51001');
  });

  it('WS subscribe events, pushes, the text pong and errors', async () => {
    const { fake } = await rig({ fake: { emitIntervalMs: 0 } });
    const ws = new WebSocket(`${fake.wsUrl}/public`);
    const inbox: string[] = [];
    ws.on('message', (d) => void inbox.push(d.toString()));
    const json = (i: number): Record<string, unknown> => JSON.parse(inbox[i]!) as Record<string, unknown>;
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

describe('feed registry', () => {
  it('builds okx from its venue file and applies the URL overrides without the generic warning', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    const feed = createFeed('okx', { urls: { ws: 'ws://127.0.0.1:9/ws/v5', rest: 'http://127.0.0.1:9' }, staleMs: 1000, log });
    expect(feed.exchange).toBe('okx');
    expect(logs.some((l) => String(l['msg']).includes('not applied'))).toBe(false);
    await withTimeout(feed.stop(), 3000, 'stop an idle feed');
  });
});

it('let no promise rejection go unhandled during the whole file', () => {
  expect(unhandled).toEqual([]);
});
