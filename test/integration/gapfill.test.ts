import { afterEach, describe, expect, it } from 'vitest';
import { withTimeout } from '../../src/lib/abort.js';
import { createLogger } from '../../src/log.js';
import { createFeed } from '../../src/market/feeds/index.js';
import { GapFiller, type GapFillReport } from '../../src/market/gapfill.js';
import { MarketHub } from '../../src/market/hub.js';
import type { PriceTick } from '../../src/market/types.js';
import { startFakeBinance, type FakeCandle } from '../fakes/binance.js';
import { startFakeBybit } from '../fakes/bybit.js';
import { startFakeOkx } from '../fakes/okx.js';
import { waitFor } from '../helpers/wait.js';
import { recordUnhandledRejections } from '../helpers/unhandled.js';

/**
 * Gap-fill end to end: the real Binance feed and hub against the fake, whose klines endpoint serves
 * candles the test sets. Every wait is bounded; nothing asserts on speed.
 */

const MIN = 60_000;
const unhandled = recordUnhandledRejections();


const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await withTimeout(cleanup(), 5000, 'cleanup').catch(() => undefined);
});

/** Candles for the minutes around now: whichever minutes the outage spans, each has a known high and low. */
function candlesAround(now: number, row: (minute: number) => Omit<FakeCandle, 'openTime'>): FakeCandle[] {
  const m = Math.floor(now / MIN) * MIN;
  return [-3, -2, -1, 0, 1, 2, 3].map((k) => ({ openTime: m + k * MIN, ...row(k) }));
}

describe('gap-fill against the fake Binance', () => {
  it('replays the candles of an outage as gapfill ticks, in time order, between the last tick before and the first after', async () => {
    const fake = await startFakeBinance({ emitIntervalMs: 100 });
    cleanups.push(() => fake.close());
    const log = createLogger('silent');
    const feed = createFeed('binance', { urls: { ws: fake.wsUrl, rest: fake.restUrl }, staleMs: 3000, log, backoff: { baseMs: 50, capMs: 200 } });
    const hub = new MarketHub({ feeds: [feed], log });
    cleanups.push(() => hub.stop());
    const reports: GapFillReport[] = [];
    // minGapMs 0: the outage here lasts as long as the reconnect takes, and must be filled however short
    const gf = new GapFiller({ hub, feeds: [feed], log, minGapMs: 0, onFilled: (r) => void reports.push(r) });
    cleanups.push(() => gf.stop());
    const ticks: PriceTick[] = [];
    hub.onTick((t) => void ticks.push(t));
    gf.start();
    hub.start();
    hub.subscribe('binance', 'BTC/USDT');
    hub.subscribe('binance', 'ETH/USDT');
    for (const p of ['BTC/USDT', 'ETH/USDT']) await waitFor(() => ticks.some((t) => t.pair === p && t.source === 'stream'), `a ${p} tick`);
    // BTC rises in every minute (low first), ETH falls (high first); each minute's extremes are distinct
    fake.setCandles('BTCUSDT', candlesAround(Date.now(), (k) => ({ open: 100_000, high: 130_000 + k, low: 90_000 + k, close: 110_000 })));
    fake.setCandles('ETHUSDT', candlesAround(Date.now(), (k) => ({ open: 3000, high: 3500 + k, low: 2500 + k, close: 2900 })));

    fake.refuse(true);
    fake.dropAll();
    await waitFor(() => feed.status().state === 'down', 'state down');
    // an outage of a dozen refused reconnects: long enough that the replay spreads over it
    await waitFor(() => feed.status().reconnects >= 12, '12 refused reconnects');
    const lastBefore = Math.max(...ticks.filter((t) => t.source === 'stream').map((t) => t.receivedAt));
    const liveFrom = ticks.length;
    fake.refuse(false);
    const [report] = await waitFor(() => reports.length > 0 && reports, 'the gap fill');
    expect(report).toMatchObject({ exchange: 'binance', from: lastBefore, pairs: 2, failed: 0 });
    expect(report!.to).toBeGreaterThan(report!.from);
    // one klines request per pair, nothing else
    expect(fake.restHits['/api/v3/klines']).toBe(2);

    const firstLive = ticks.slice(liveFrom).find((t) => t.source === 'stream');
    expect(firstLive).toBeDefined();
    for (const [pair, up] of [['BTC/USDT', true], ['ETH/USDT', false]] as const) {
      const replay = ticks.filter((t) => t.source === 'gapfill' && t.pair === pair);
      expect(replay.length).toBeGreaterThanOrEqual(2);
      const stamps = replay.map((t) => t.exchangeTs);
      expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
      for (const t of replay) {
        expect(t.exchangeTs).toBeGreaterThanOrEqual(report!.from);
        expect(t.exchangeTs).toBeLessThan(report!.to);
        expect(t.exchangeTs).toBeLessThan(firstLive!.exchangeTs);
      }
      // per minute: the extreme the candle's direction says came first, then the other
      for (let i = 0; i < replay.length; i += 2) {
        const [a, b] = [replay[i]!.last, replay[i + 1]!.last];
        const k = (up ? a : b) - (pair === 'BTC/USDT' ? 90_000 : 2500); // which minute, from its low
        expect(up ? [a, b] : [b, a]).toEqual(pair === 'BTC/USDT' ? [90_000 + k, 130_000 + k] : [2500 + k, 3500 + k]);
      }
    }
    // the replay never became the current price
    expect(hub.latest('binance', 'BTC/USDT')?.source).toBe('stream');
  });
});

describe('fetchOHLCV through each fake', () => {
  it('binance: one klines request from the minute the gap began in, candles mapped oldest first', async () => {
    const fake = await startFakeBinance();
    cleanups.push(() => fake.close());
    const feed = createFeed('binance', { urls: { ws: fake.wsUrl, rest: fake.restUrl }, staleMs: 3000, log: createLogger('silent') });
    cleanups.push(() => feed.stop());
    const m = Math.floor(Date.now() / MIN) * MIN;
    fake.setCandles('ETHUSDT', [0, 1, 2, 3, 4].map((k) => ({ openTime: m - (4 - k) * MIN, open: 3000 + k, high: 3100 + k, low: 2900 + k, close: 3050 + k })));
    // 30 s into the minute three before now, asking for 2: the minute it began in and the next, no more
    const candles = await feed.fetchOHLCV('ETH/USDT', m - 3 * MIN + 30_000, 2);
    expect(candles).toEqual([
      { ts: m - 3 * MIN, open: 3001, high: 3101, low: 2901, close: 3051 },
      { ts: m - 2 * MIN, open: 3002, high: 3102, low: 2902, close: 3052 },
    ]);
    expect(fake.restHits['/api/v3/klines']).toBe(1);
  });

  it('bybit: maps the recorded kline rows (strings, newest first) to candles oldest first', async () => {
    const fake = await startFakeBybit();
    cleanups.push(() => fake.close());
    const feed = createFeed('bybit', { urls: { ws: fake.wsUrl, rest: fake.restUrl }, staleMs: 3000, log: createLogger('silent') });
    cleanups.push(() => feed.stop());
    // the fake answers its three recorded rows whatever the range; asked from the oldest, all three pass
    const candles = await feed.fetchOHLCV('BTC/USDT', 1670601600000, 3);
    expect(candles.map((c) => c.ts)).toEqual([1670601600000, 1670605200000, 1670608800000]);
    expect(candles[2]).toEqual({ ts: 1670608800000, open: 17071, high: 17073, low: 17027, close: 17055.5 });
    expect(fake.restHits['/v5/market/kline']).toBe(1);
  });

  it('okx: one candles request for a recent gap', async () => {
    const fake = await startFakeOkx();
    cleanups.push(() => fake.close());
    const feed = createFeed('okx', { urls: { ws: fake.wsUrl, rest: fake.restUrl }, staleMs: 3000, log: createLogger('silent') });
    cleanups.push(() => feed.stop());
    // the recorded rows are from 2023, outside a gap of a few minutes ago, so nothing comes back
    expect(await feed.fetchOHLCV('BTC/USDT', Date.now() - 5 * MIN, 6)).toEqual([]);
    expect(fake.restHits['/api/v5/market/candles']).toBe(1);
  });
});

it('let no promise rejection go unhandled during the whole file', () => {
  expect(unhandled).toEqual([]);
});
