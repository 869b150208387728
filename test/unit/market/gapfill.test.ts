import { describe, expect, it } from 'vitest';
import { withTimeout } from '../../../src/lib/abort.js';
import { createLogger } from '../../../src/log.js';
import { GapFiller, gapTicks, type GapFillReport, type GapFillerOptions } from '../../../src/market/gapfill.js';
import { MarketHub } from '../../../src/market/hub.js';
import type { Candle, PriceTick } from '../../../src/market/types.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';
import { AlertEngine } from '../../../src/alerts/engine.js';
import type { Firing } from '../../../src/alerts/types.js';

const MIN = 60_000;
const T0 = Date.UTC(2025, 0, 6, 12, 0, 0); // a minute boundary

const candle = (minute: number, open: number, high: number, low: number, close: number): Candle => ({ ts: T0 + minute * MIN, open, high, low, close });

describe('gapTicks', () => {
  it('emits low then high for an up candle, high then low for a down one, in time order', () => {
    const ticks = gapTicks('binance', 'BTC/USDT', [candle(1, 100, 120, 90, 110), candle(0, 100, 105, 80, 95)], T0, T0 + 2 * MIN, 7);
    expect(ticks.map((t) => t.last)).toEqual([105, 80, 90, 120]);
    expect(ticks.every((t) => t.source === 'gapfill' && t.receivedAt === 7 && t.exchange === 'binance' && t.pair === 'BTC/USDT')).toBe(true);
    const ts = ticks.map((t) => t.exchangeTs);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(new Set(ts).size).toBe(4);
    // each tick lies inside its candle's minute
    expect(ts[0]! >= T0 && ts[1]! < T0 + MIN && ts[2]! >= T0 + MIN && ts[3]! < T0 + 2 * MIN).toBe(true);
  });

  it('stamps ticks inside the part of the minute that lies in the gap, and skips candles outside it', () => {
    const from = T0 + 40_000; // the last tick before the gap came 40 s into minute 0
    const to = T0 + 2 * MIN + 10_000; // the stream came back 10 s into minute 2
    const rows = [candle(-1, 1, 1, 1, 1), candle(0, 10, 12, 9, 11), candle(1, 11, 13, 10, 12), candle(2, 12, 14, 11, 11.5), candle(3, 9, 9, 9, 9)];
    const ticks = gapTicks('okx', 'ETH/USDT', rows, from, to, 0);
    expect(ticks.map((t) => t.last)).toEqual([9, 12, 10, 13, 14, 11]);
    for (const t of ticks) {
      expect(t.exchangeTs).toBeGreaterThanOrEqual(from);
      expect(t.exchangeTs).toBeLessThan(to);
    }
  });

  it('keeps stamps before stampBefore, so a live tick stamped by the exchange just before our recovery still sorts last', () => {
    const to = T0 + MIN + 500;
    const ticks = gapTicks('binance', 'BTC/USDT', [candle(0, 1, 3, 1, 2), candle(1, 2, 5, 2, 4)], T0, to, 0, to - 1000);
    expect(ticks.map((t) => t.last)).toEqual([1, 3, 2, 5]);
    const ts = ticks.map((t) => t.exchangeTs);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(Math.max(...ts)).toBeLessThanOrEqual(to - 1000);
  });

  it('emits one tick for a candle whose high equals its low', () => {
    expect(gapTicks('binance', 'BTC/USDT', [candle(0, 5, 5, 5, 5)], T0, T0 + MIN, 0).map((t) => t.last)).toEqual([5]);
  });
});

interface Rig {
  feed: MemoryFeed;
  hub: MarketHub;
  gf: GapFiller;
  clock: { t: number };
  seen: PriceTick[];
  reports: GapFillReport[];
  /** the next fill report (bounded wait) */
  nextFill(): Promise<GapFillReport>;
  logs: Array<Record<string, unknown>>;
}

function rig(opts: Partial<GapFillerOptions> = {}): Rig {
  const clock = { t: T0 };
  const now = (): number => clock.t;
  const feed = new MemoryFeed('binance', new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']), new Map(), now);
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger('debug', { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const hub = new MarketHub({ feeds: [feed], log, now });
  const reports: GapFillReport[] = [];
  let waiting: ((r: GapFillReport) => void) | undefined;
  const gf = new GapFiller({
    hub, feeds: [feed], log, now, ...opts,
    onFilled: (r) => {
      reports.push(r);
      waiting?.(r);
      waiting = undefined;
    },
  });
  const seen: PriceTick[] = [];
  hub.onTick((t) => void seen.push(t));
  gf.start();
  return {
    feed, hub, gf, clock, seen, reports, logs,
    nextFill: () => withTimeout(new Promise<GapFillReport>((resolve) => (waiting = resolve)), 2000, 'a gap fill'),
  };
}

/** a stream tick received at the rig's current time */
function streamTick(r: Rig, pair: string, last: number): void {
  r.feed.emitTick({ exchange: 'binance', pair, last, exchangeTs: r.clock.t, receivedAt: r.clock.t, source: 'stream' });
}

describe('GapFiller', () => {
  it('fills a stream outage from the last tick to the recovery, for every subscribed pair by default', async () => {
    const r = rig();
    r.hub.subscribe('binance', 'BTC/USDT');
    r.hub.subscribe('binance', 'ETH/USDT');
    r.feed.candles.set('BTC/USDT', [candle(0, 100, 101, 99, 100), candle(1, 100, 130, 100, 125), candle(2, 125, 126, 90, 95), candle(3, 95, 95, 95, 95)]);
    r.feed.candles.set('ETH/USDT', [candle(1, 10, 11, 9, 10)]);
    r.feed.setState('streaming');
    r.clock.t = T0 + 30_000;
    streamTick(r, 'BTC/USDT', 100);
    r.feed.setState('connecting'); // the drop
    r.clock.t = T0 + 2 * MIN + 45_000;
    const filled = r.nextFill();
    r.feed.setState('streaming');
    const report = await filled;
    expect(report).toMatchObject({ exchange: 'binance', from: T0 + 30_000, to: T0 + 2 * MIN + 45_000, pairs: 2, failed: 0 });
    // one request per pair, from the minute the gap began in, covering up to the recovery minute
    expect(r.feed.ohlcvCalls.sort((a, b) => a.pair.localeCompare(b.pair))).toEqual([
      { pair: 'BTC/USDT', sinceMs: T0, limit: 3 },
      { pair: 'ETH/USDT', sinceMs: T0, limit: 3 },
    ]);
    const btc = r.seen.filter((t) => t.source === 'gapfill' && t.pair === 'BTC/USDT');
    expect(btc.map((t) => t.last)).toEqual([99, 101, 100, 130, 126, 90]);
    expect(btc.map((t) => t.exchangeTs)).toEqual(btc.map((t) => t.exchangeTs).sort((a, b) => a - b));
    expect(btc.every((t) => t.exchangeTs >= T0 + 30_000 && t.exchangeTs < T0 + 2 * MIN + 45_000)).toBe(true);
    expect(report.ticks).toBe(btc.length + 2);
    // gap-fill ticks reach listeners but never become "the current price"
    expect(r.hub.latest('binance', 'BTC/USDT')?.last).toBe(100);
  });

  it('a level crossed and recrossed during an outage fires once, from the replay, before the live prices after it', async () => {
    const r = rig();
    const engine = new AlertEngine();
    const firings: Array<Firing & { order: string }> = [];
    r.hub.onTick((t) => {
      for (const f of engine.evaluate(t)) firings.push({ ...f, order: t.source });
    });
    engine.add({ id: 1, exchange: 'binance', pair: 'BTC/USDT', condition: { kind: 'level', op: '>', price: '120' }, repeat: { kind: 'once' }, state: { armed: true, fireCount: 0 } });
    engine.add({ id: 2, exchange: 'binance', pair: 'BTC/USDT', condition: { kind: 'crosses', price: '110' }, repeat: { kind: 'once' }, state: { armed: true, fireCount: 0, side: 'below' } });
    r.hub.subscribe('binance', 'BTC/USDT');
    r.feed.candles.set('BTC/USDT', [candle(1, 100, 130, 100, 125), candle(2, 125, 126, 90, 95)]);
    r.feed.setState('streaming');
    r.clock.t = T0 + 30_000;
    streamTick(r, 'BTC/USDT', 100);
    r.feed.setState('connecting');
    r.clock.t = T0 + 3 * MIN;
    const filled = r.nextFill();
    r.feed.setState('streaming');
    streamTick(r, 'BTC/USDT', 96); // back below both levels: alone it would fire nothing
    await filled;
    await new Promise((resolve) => setImmediate(resolve));
    expect(firings.map((f) => [f.ruleId, f.price, f.source])).toEqual([
      [1, 130, 'gapfill'],
      [2, 130, 'gapfill'],
    ]);
    // the live tick came after the replay, not before it
    expect(r.seen.at(-1)).toMatchObject({ source: 'stream', last: 96 });
  });

  it('asks pairsNeedingGapfill which pairs to fill', async () => {
    const asked: string[] = [];
    const r = rig({ pairsNeedingGapfill: (exchange) => (asked.push(exchange), ['SOL/USDT']) });
    r.hub.subscribe('binance', 'BTC/USDT');
    r.feed.setState('streaming');
    streamTick(r, 'BTC/USDT', 1);
    r.feed.setState('down');
    r.clock.t += 5 * MIN;
    const filled = r.nextFill();
    r.feed.setState('streaming');
    expect(await filled).toMatchObject({ pairs: 1 });
    expect(asked).toEqual(['binance']);
    expect(r.feed.ohlcvCalls.map((c) => c.pair)).toEqual(['SOL/USDT']);
  });

  it('does nothing on the first connect, for a blip shorter than minGapMs, or without a tick before the gap', async () => {
    const r = rig({ minGapMs: 5_000 });
    r.hub.subscribe('binance', 'BTC/USDT');
    r.feed.setState('streaming'); // start-up: nothing was missed
    r.feed.setState('connecting');
    r.clock.t += 60_000;
    r.feed.setState('streaming'); // no tick ever arrived: no known start
    streamTick(r, 'BTC/USDT', 1);
    r.feed.setState('connecting');
    r.clock.t += 2_000;
    r.feed.setState('streaming');
    await Promise.resolve();
    expect(r.feed.ohlcvCalls).toEqual([]);
    expect(r.reports).toEqual([]);
  });

  it('fills when polling takes over, again after a failed poll stretch, and the polled stretch when the stream returns', async () => {
    const r = rig();
    r.hub.subscribe('binance', 'BTC/USDT');
    r.feed.setState('streaming');
    streamTick(r, 'BTC/USDT', 1);
    const t1 = r.clock.t;
    r.feed.setState('connecting');
    r.clock.t += 30_000;
    let filled = r.nextFill();
    r.feed.markPolling(true); // first poll after the drop: state 'polling'
    expect(await filled).toMatchObject({ from: t1, to: t1 + 30_000 });
    const t2 = r.clock.t;
    r.clock.t += 30_000;
    r.feed.state = 'down';
    r.feed.markPolling(false); // the poll failed: 'down'
    r.clock.t += 60_000;
    filled = r.nextFill();
    r.feed.markPolling(true);
    expect(await filled).toMatchObject({ from: t2, to: t2 + 90_000 });
    const t3 = r.clock.t;
    r.clock.t += 120_000;
    filled = r.nextFill();
    r.feed.setState('streaming'); // polls sample the price; the candles of the polled stretch hold its wicks
    expect(await filled).toMatchObject({ from: t3, to: t3 + 120_000 });
    expect(r.feed.ohlcvCalls).toHaveLength(3);
  });

  it('bounds a long outage to maxCandles and says so', async () => {
    const r = rig({ maxCandles: 60 });
    r.hub.subscribe('binance', 'BTC/USDT');
    r.feed.setState('streaming');
    r.clock.t = T0 + 10_000;
    streamTick(r, 'BTC/USDT', 1);
    r.feed.setState('down');
    r.clock.t = T0 + 3 * 24 * 60 * MIN;
    const filled = r.nextFill();
    r.feed.setState('streaming');
    expect(await filled).toMatchObject({ from: T0 + 10_000, to: T0 + 60 * MIN });
    expect(r.feed.ohlcvCalls).toEqual([{ pair: 'BTC/USDT', sinceMs: T0, limit: 60 }]);
    expect(r.logs.some((l) => l['level'] === 'warn' && /out longer than gap-fill covers/.test(String(l['msg'])))).toBe(true);
  });

  it('logs a failed request instead of throwing, and fills the next gap normally', async () => {
    const r = rig();
    r.hub.subscribe('binance', 'BTC/USDT');
    r.feed.setState('streaming');
    streamTick(r, 'BTC/USDT', 1);
    r.feed.failOhlcv = new Error('HTTP 429');
    r.feed.setState('connecting');
    r.clock.t += 5 * MIN;
    let filled = r.nextFill();
    r.feed.setState('streaming');
    expect(await filled).toMatchObject({ pairs: 1, ticks: 0, failed: 1 });
    expect(r.logs.some((l) => l['level'] === 'warn' && l['pair'] === 'BTC/USDT' && String(l['err']).includes('HTTP 429'))).toBe(true);
    r.feed.failOhlcv = undefined;
    r.feed.candles.set('BTC/USDT', [{ ts: Math.floor(r.clock.t / MIN) * MIN, open: 1, high: 3, low: 1, close: 2 }]);
    streamTick(r, 'BTC/USDT', 1);
    r.feed.setState('connecting');
    r.clock.t += 5 * MIN;
    filled = r.nextFill();
    r.feed.setState('streaming');
    expect(await filled).toMatchObject({ failed: 0, ticks: 2 });
  });

  it('stops at once while a candle request hangs, and emits nothing from it', async () => {
    const r = rig({ timeoutMs: 60_000 });
    r.hub.subscribe('binance', 'BTC/USDT');
    let asked = false;
    r.feed.fetchOHLCV = () => {
      asked = true;
      return new Promise(() => undefined);
    };
    r.feed.setState('streaming');
    streamTick(r, 'BTC/USDT', 1);
    r.feed.setState('connecting');
    r.clock.t += 5 * MIN;
    r.feed.setState('streaming');
    for (let i = 0; i < 100 && !asked; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(asked).toBe(true);
    await withTimeout(r.gf.stop(), 2000, 'stop with a request in flight');
    expect(r.seen.filter((t) => t.source === 'gapfill')).toEqual([]);
    expect(r.reports).toEqual([]);
  });

  it('survives a throwing pairsNeedingGapfill and stops cleanly', async () => {
    const r = rig({ pairsNeedingGapfill: () => { throw new Error('engine bug'); } });
    r.feed.setState('streaming');
    streamTick(r, 'BTC/USDT', 1);
    r.feed.setState('connecting');
    r.clock.t += 5 * MIN;
    r.feed.setState('streaming');
    const logged = (): boolean => r.logs.some((l) => l['level'] === 'error' && String(l['err']).includes('engine bug'));
    for (let i = 0; i < 100 && !logged(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(logged()).toBe(true);
    await withTimeout(r.gf.stop(), 2000, 'stop');
    // after stop, a recovery starts nothing
    r.feed.setState('connecting');
    r.clock.t += 5 * MIN;
    r.feed.setState('streaming');
    expect(r.feed.ohlcvCalls).toEqual([]);
  });
});
