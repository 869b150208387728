import ccxt, { type Exchange } from 'ccxt';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExchangeUrls } from '../../src/config.js';
import { FeedError } from '../../src/errors.js';
import { withTimeout } from '../../src/lib/abort.js';
import { createLogger } from '../../src/log.js';
import type { VenueConfig } from '../../src/market/feeds/base.js';
import { createFeed, type StreamFeed } from '../../src/market/feeds/index.js';
import type { PriceTick } from '../../src/market/types.js';
import type { FakeExchange, FakeServerOptions } from '../fakes/common.js';
import { waitFor as waitUntil } from '../helpers/wait.js';
import { recordUnhandledRejections } from '../helpers/unhandled.js';

/**
 * The behaviour every venue's feed owes the rest of the bot, checked against that venue's local fake:
 * real ccxt (REST + pro) pointed at the fake through the same URL overrides an operator sets. A venue
 * file describes its wire (paths, topic names, recorded values) in a FeedVenue, runs these scenarios with
 * describeFeedContract, and keeps what only that venue does in its own tests. Every wait is bounded;
 * nothing asserts on speed.
 */

/** venue files import the waits from here with the rest of the contract; 8 s suits a loopback fake */
export const waitFor = <T>(probe: () => T | undefined | false | null, what: string, ms = 8000): Promise<T> => waitUntil(probe, what, ms);

export const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One subscribe or unsubscribe frame the fake received, whatever the venue calls its fields. */
export interface ControlRecord {
  conn: number;
  at: number;
  /** the pairs' entries as sent: see FeedVenue.wireArg */
  args: unknown[];
}

/** ControlRecords of venues whose frames are { op, args } (Bybit, OKX). */
export function opFrames(fake: FakeExchange<{ conn: number; at: number; op: unknown; args: unknown }>, op: string): ControlRecord[] {
  return fake.frames.filter((f) => f.op === op).map(({ conn, at, args }) => ({ conn, at, args: args as unknown[] }));
}

export interface FeedVenue<F extends FakeExchange<unknown>, O extends FakeServerOptions = FakeServerOptions> {
  /** ccxt id, createFeed's name and PriceTick.exchange */
  id: 'binance' | 'bybit' | 'okx';
  startFake(opts: O): Promise<F>;
  /** the venue file under test, for the plain ccxt instances some scenarios build */
  config(urls: ExchangeUrls): VenueConfig;
  /** every pair the fake lists */
  pairs: readonly string[];
  /** exchange symbol of a pair, as setPrice takes it: BTCUSDT, BTC-USDT */
  symbol(pair: string): string;
  /** a pair's stream as fake.subscriptions() lists it */
  streamName(pair: string): string;
  /** a pair's entry in a subscribe frame as the feed sends it */
  wireArg(pair: string): unknown;
  control(fake: F, op: 'subscribe' | 'unsubscribe'): ControlRecord[];
  /** feed deps the rig sets unless a test asks for the venue's own pacing (OKX's 7.5 s subscribe gap) */
  testFeedDeps?: { subscribeGapMs: number };
  /** least gap the rig's feed keeps between two subscribes, as the fake stamps their receipt */
  minSubscribeGapMs: number;
  /** path of the one socket the feed dials for tickers */
  wsPath: string;
  /** an override pair for the registry check: any port, the venue's path shape */
  overrideUrls: ExchangeUrls;
  rest: { markets: string; ticker: string; tickers: string; ohlcv: string };
  /** fetchTicker('BTC/USDT') of the recorded ticker: fields beyond exchange, pair and source */
  recordedTicker: Partial<Record<keyof PriceTick, unknown>>;
  /** the REST ticker carries no time of its own, so the tick is stamped on receipt */
  restTickerUntimed?: boolean;
  /** fetchOHLCV('ETH/USDT', timeframe, undefined, 2) of the recorded rows, oldest first */
  ohlcv: { timeframe: string; rows: number[][] };
  /** bid and ask of a streamed tick after setPrice(BTC, '120000.5'); null: the stream carries neither */
  streamBidAsk: { bid: number; ask: number } | null;
  /** the venue pushes the current ticker right after a subscribe is acknowledged */
  snapshotOnSubscribe: boolean;
  /** the venue sends no change field and ccxt derives it from open and last, with float noise */
  changeDerived?: boolean;
  /** ccxt pro's own application-level heartbeat, for venues that have one */
  keepAlive?: {
    /** `JSON ` or `text `: what ccxt pings with */
    kind: string;
    heartbeats(fake: F): number;
    /** last price of the recorded BTC/USDT ticker */
    recordedLast: number;
    beforeWatch?(ex: Exchange): Promise<unknown>;
    /** venue checks on what the fake saw during the stall */
    afterStall?(fake: F): void;
  };
}

export interface Rig<F> {
  fake: F;
  feed: StreamFeed;
  ticks: PriceTick[];
  logs: Array<Record<string, unknown>>;
  /** ticks of `pair` received after index `from` */
  tickAfter(from: number, pair: string, pred?: (t: PriceTick) => boolean): Promise<PriceTick>;
}

export interface RigOptions<O> {
  staleMs?: number;
  baseMs?: number;
  /** 'venue': the venue's own subscribe pacing instead of testFeedDeps */
  pacing?: 'test' | 'venue';
  fake?: O;
}

export interface FeedHarness<F extends FakeExchange<unknown>, O extends FakeServerOptions> {
  venue: FeedVenue<F, O>;
  /** a fake (pushing every 100 ms unless told) and a feed pointed at it, both closed after the test */
  rig(opts?: RigOptions<O>): Promise<Rig<F>>;
  /** starts the feed with `pairs` and waits for a tick of each */
  streaming(r: Rig<F>, pairs: readonly string[]): Promise<void>;
  /** runs after the current test, latest first */
  cleanup(fn: () => Promise<unknown>): void;
  /** promise rejections nobody handled since the file started */
  readonly unhandled: readonly unknown[];
}

/** Hooks for one test file: call at its top level, once. */
export function feedHarness<F extends FakeExchange<unknown>, O extends FakeServerOptions>(venue: FeedVenue<F, O>): FeedHarness<F, O> {
  const unhandled = recordUnhandledRejections();

  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await withTimeout(cleanup(), 5000, 'cleanup');
  });

  return {
    venue,
    unhandled,
    cleanup: (fn) => void cleanups.push(fn),
    async rig(opts = {}) {
      const fake = await venue.startFake({ emitIntervalMs: 100, ...opts.fake } as O);
      cleanups.push(() => fake.close());
      const logs: Array<Record<string, unknown>> = [];
      const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
      const feed = createFeed(venue.id, {
        urls: { ws: fake.wsUrl, rest: fake.restUrl },
        staleMs: opts.staleMs ?? 3000,
        log,
        backoff: { baseMs: opts.baseMs ?? 50, capMs: 200 },
        ...(opts.pacing === 'venue' ? {} : venue.testFeedDeps),
      });
      cleanups.push(() => feed.stop());
      const ticks: PriceTick[] = [];
      feed.on('tick', (t) => void ticks.push(t));
      return {
        fake, feed, ticks, logs,
        tickAfter: (from, pair, pred = () => true) =>
          waitFor(() => ticks.slice(from).find((t) => t.pair === pair && pred(t)), `a ${pair} tick`),
      };
    },
    async streaming(r, pairs) {
      r.feed.start();
      for (const p of pairs) r.feed.addPair(p);
      for (const p of pairs) await r.tickAfter(0, p);
      expect(r.feed.status().state).toBe('streaming');
    },
  };
}

/** The scenarios every venue's feed must pass, as tests of the calling file. */
export function describeFeedContract<F extends FakeExchange<unknown>, O extends FakeServerOptions>(h: FeedHarness<F, O>): void {
  const { venue: v, rig, streaming } = h;
  const wire = (pairs: readonly string[]): unknown[] => pairs.map((p) => v.wireArg(p));

  describe(`${v.id} feed: REST through the fake`, () => {
    it(`loads the spot markets with one ${v.rest.markets} request and nothing else`, async () => {
      const { feed, fake } = await rig();
      expect([...(await feed.loadMarkets())].sort()).toEqual([...v.pairs].sort());
      await feed.loadMarkets();
      // the other market types (futures, swaps, options) and currency endpoints were never asked for
      expect(fake.restHits).toEqual({ [v.rest.markets]: 1 });
    });

    it('fetchTicker maps the recorded ticker', async () => {
      const { feed, fake } = await rig();
      const t = await feed.fetchTicker('BTC/USDT');
      expect(t).toMatchObject({ exchange: v.id, pair: 'BTC/USDT', ...v.recordedTicker, source: 'rest' });
      if (v.restTickerUntimed) expect(t.exchangeTs).toBe(t.receivedAt);
      else expect(t.exchangeTs).toBeGreaterThan(0);
      expect(fake.restHits[v.rest.ticker]).toBe(1);
      await expect(feed.fetchTicker('NOPE/USDT')).rejects.toBeInstanceOf(FeedError);
    });

    it('fetchTickers asks once for many pairs and follows setPrice', async () => {
      const { feed, fake } = await rig();
      fake.setPrice(v.symbol('ETH/USDT'), '3210.55');
      const asked = ['BTC/USDT', 'ETH/USDT', 'ADA/USDT', v.pairs.at(-1)!];
      const ticks = await feed.fetchTickers(asked);
      expect(ticks.map((t) => t.pair).sort()).toEqual([...asked].sort());
      expect(ticks.every((t) => t.source === 'poll')).toBe(true);
      expect(ticks.find((t) => t.pair === 'ETH/USDT')).toMatchObject({ last: 3210.55, ask: 3210.55, bid: 3210.54 });
      expect(fake.restHits[v.rest.tickers]).toBe(1);
    });

    it('routes fetchOHLCV to the fake with the venue settings', async () => {
      const { fake } = await rig();
      const ex = new ccxt[v.id](v.config({ rest: fake.restUrl, ws: fake.wsUrl }).settings);
      expect(await ex.fetchOHLCV('ETH/USDT', v.ohlcv.timeframe, undefined, 2)).toEqual(v.ohlcv.rows);
      expect(fake.restHits).toEqual({ [v.rest.markets]: 1, [v.rest.ohlcv]: 1 });
    });
  });

  describe(`${v.id} feed: stream through the fake`, () => {
    it('connects lazily, then streams the fake price for an added pair', async () => {
      const r = await rig();
      r.fake.setPrice(v.symbol('BTC/USDT'), '120000.5');
      r.feed.start();
      await pause(150);
      expect(r.fake.connections.total).toBe(0);
      expect(r.feed.status().state).toBe('connecting');
      r.feed.addPair('BTC/USDT');
      const t = await r.tickAfter(0, 'BTC/USDT');
      expect(t).toMatchObject({ exchange: v.id, pair: 'BTC/USDT', last: 120000.5, source: 'stream' });
      if (v.streamBidAsk) expect(t).toMatchObject(v.streamBidAsk);
      else {
        expect(t.bid).toBeUndefined();
        expect(t.ask).toBeUndefined();
      }
      expect(t.exchangeTs).toBeGreaterThan(0);
      expect(r.feed.status()).toMatchObject({ state: 'streaming', symbols: 1, lastError: null });
      expect(r.fake.subscriptions()).toEqual([{ id: 1, path: v.wsPath, streams: [v.streamName('BTC/USDT')] }]);
    });

    it(`adds pairs to the live connection: ${v.pairs.length} pairs, 1 socket, paced subscribes, nothing resubscribed`, async () => {
      const r = await rig();
      await streaming(r, ['BTC/USDT']);
      for (const p of v.pairs.slice(1)) {
        r.feed.addPair(p);
        await pause(40); // some adds land while a subscribe gap is running, some after it
      }
      const from = r.ticks.length;
      for (const p of v.pairs) await r.tickAfter(from, p);
      expect(r.fake.connections).toEqual({ current: 1, total: 1 });
      expect(r.fake.subscriptions()[0]?.streams.sort()).toEqual(v.pairs.map((p) => v.streamName(p)).sort());
      const subs = v.control(r.fake, 'subscribe');
      const sent = subs.flatMap((f) => f.args.map((a) => JSON.stringify(a)));
      expect(new Set(sent).size).toBe(sent.length);
      expect(subs.length).toBeLessThan(v.pairs.length); // adds made during a gap share one frame
      for (let i = 1; i < subs.length; i++) expect(subs[i]!.at - subs[i - 1]!.at).toBeGreaterThanOrEqual(v.minSubscribeGapMs);
    });

    it('emits a tick right after setPrice, with the 24 h change', async () => {
      const r = await rig({ fake: { emitIntervalMs: 0 } as O });
      r.fake.setPrice(v.symbol('ETH/USDT'), '3000.00', { open: '3000.00' });
      r.feed.start();
      r.feed.addPair('ETH/USDT');
      await waitFor(() => r.fake.subscriptions()[0]?.streams.length === 1, 'the subscribe');
      if (v.snapshotOnSubscribe) await r.tickAfter(0, 'ETH/USDT');
      const from = r.ticks.length;
      r.fake.setPrice(v.symbol('ETH/USDT'), '3210.00');
      const t = await r.tickAfter(from, 'ETH/USDT');
      expect(t.last).toBe(3210);
      if (v.changeDerived) expect(t.changePct24h).toBeCloseTo(7, 9);
      else expect(t.changePct24h).toBe(7);
    });

    it('removes a pair with an unsubscribe and keeps the others streaming', async () => {
      const r = await rig();
      await streaming(r, ['BTC/USDT', 'ETH/USDT', 'ADA/USDT']);
      r.feed.removePair('ETH/USDT');
      await waitFor(() => !r.fake.subscriptions()[0]?.streams.includes(v.streamName('ETH/USDT')), 'the unsubscribe');
      expect(v.control(r.fake, 'unsubscribe').map((f) => f.args)).toEqual([wire(['ETH/USDT'])]);
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
      await waitFor(() => r.logs.find((l) => String(l['msg']).includes(`not listed on ${v.id}`)), 'the warning');
      await r.tickAfter(r.ticks.length, 'BTC/USDT');
      expect(r.fake.connections.total).toBe(1);
    });

    it('treats a socket that sends no data (heartbeats aside) as dropped after staleMs and resumes when data flows again', async () => {
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

    it('reconnects after a drop and resubscribes every pair in one frame, without waiting out the subscribe gap', async () => {
      const r = await rig({ pacing: 'venue' });
      const pairs = ['BTC/USDT', 'ETH/USDT', 'XRP/USDT', 'DOGE/USDT'];
      await streaming(r, pairs);
      r.fake.dropAll();
      await waitFor(() => r.fake.connections.total === 2, 'the second connection');
      const from = r.ticks.length;
      for (const p of pairs) await r.tickAfter(from, p);
      expect(r.fake.connections.current).toBe(1);
      const second = v.control(r.fake, 'subscribe').filter((f) => f.conn === 2);
      expect(second).toHaveLength(1);
      expect(second[0]!.args).toEqual(wire(pairs));
      expect(r.feed.status().reconnects).toBe(1);
    });

    it('goes down with one log line per retry while refused, then streams again', async () => {
      const r = await rig();
      await streaming(r, ['BTC/USDT']);
      r.fake.refuse(true);
      r.fake.dropAll();
      await waitFor(() => r.feed.status().state === 'down', 'state down');
      const retryLine = new RegExp(`^${v.id} stream down, reconnecting in \\d+\\.\\d s$`);
      const retries = await waitFor(() => {
        const lines = r.logs.filter((l) => l['level'] === 'warn' && retryLine.test(String(l['msg'])));
        return lines.length >= 3 && lines;
      }, '3 retry lines');
      for (const line of retries) expect(line).toMatchObject({ exchange: v.id, attempt: expect.any(Number), delayMs: expect.any(Number), err: expect.any(String) });
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

  const k = v.keepAlive;
  if (k) {
    describe(`ccxt pro ${v.id} against the fake`, () => {
      it(`keeps its own ${k.kind}ping/pong alive through a stall: the fake's pong is the one ccxt recognises`, async () => {
        const fake = await v.startFake({ emitIntervalMs: 50 } as O);
        h.cleanup(() => fake.close());
        // ccxt pings every 18 s and gives up after two missed pongs; 100 ms makes that observable here
        const ex: Exchange = new ccxt.pro[v.id]({ ...v.config({ rest: fake.restUrl, ws: fake.wsUrl }).settings, streaming: { keepAlive: 100 } });
        h.cleanup(() => ex.close());
        await ex.loadHttpProxyAgent();
        await k.beforeWatch?.(ex);
        expect((await ex.watchTicker('BTC/USDT')).last).toBe(k.recordedLast);
        fake.stall(true);
        await pause(700);
        expect(k.heartbeats(fake)).toBeGreaterThanOrEqual(3);
        k.afterStall?.(fake);
        fake.stall(false);
        fake.setPrice(v.symbol('BTC/USDT'), '25000');
        expect((await withTimeout(ex.watchTicker('BTC/USDT'), 3000, 'a ticker after the stall')).last).toBe(25000);
        expect(fake.connections).toEqual({ current: 1, total: 1 });
      });
    });
  }

  describe('feed registry', () => {
    it(`builds ${v.id} from its venue file and applies the URL overrides without the generic warning`, async () => {
      const logs: Array<Record<string, unknown>> = [];
      const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
      const feed = createFeed(v.id, { urls: v.overrideUrls, staleMs: 1000, log });
      expect(feed.exchange).toBe(v.id);
      expect(logs.some((l) => String(l['msg']).includes('not applied'))).toBe(false);
      await withTimeout(feed.stop(), 3000, 'stop an idle feed');
    });
  });
}
