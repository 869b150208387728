import { afterEach, describe, expect, it } from 'vitest';
import { withTimeout } from '../../../src/lib/abort.js';
import { createLogger } from '../../../src/log.js';
import { MarketHub } from '../../../src/market/hub.js';
import { TopPairs, topByQuoteVolume, type TopPairsOptions } from '../../../src/market/top-pairs.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';

const log = createLogger('silent');
const USDT = new Set(['USDT']);

describe('topByQuoteVolume', () => {
  const volumes = new Map([
    ['BTC/USDT', 900], ['ETH/USDT', 800], ['BTC/TRY', 1e12], ['SOL/USDT', 800], ['DEAD/USDT', 1e9], ['ZERO/USDT', 0], ['NAN/USDT', Number.NaN], ['ADA/USDT', 10],
  ]);
  const listed = new Set(['BTC/USDT', 'ETH/USDT', 'BTC/TRY', 'SOL/USDT', 'ZERO/USDT', 'NAN/USDT', 'ADA/USDT']);

  it('ranks listed pairs of the chosen quotes by volume, ties by name, at most count', () => {
    expect(topByQuoteVolume(volumes, { count: 3, quotes: USDT, listed })).toEqual(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
    expect(topByQuoteVolume(volumes, { count: 10, quotes: USDT, listed })).toEqual(['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'ADA/USDT']);
  });

  it('never compares volumes across quote currencies unless asked to', () => {
    expect(topByQuoteVolume(volumes, { count: 1, quotes: new Set(['USDT', 'TRY']), listed })).toEqual(['BTC/TRY']);
  });
});

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await withTimeout(stop(), 2000, 'stop');
});

function rig(opts: Partial<TopPairsOptions> = {}) {
  const pairs = Array.from({ length: 25 }, (_, i) => `C${String(i).padStart(2, '0')}/USDT`);
  const listed = new Set([...pairs, 'ETH/BTC']);
  const binance = new MemoryFeed('binance', listed);
  const okx = new MemoryFeed('okx', new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']));
  // C00 trades least, C24 most; ETH/BTC's volume is in BTC and must not count
  pairs.forEach((p, i) => binance.quoteVolumes.set(p, 1000 + i));
  binance.quoteVolumes.set('ETH/BTC', 1e9);
  okx.quoteVolumes.set('BTC/USDT', 5).set('ETH/USDT', 7).set('SOL/USDT', 6);
  const hub = new MarketHub({ feeds: [binance, okx], log });
  const top = new TopPairs({ hub, feeds: [binance, okx], log, backoff: { baseMs: 1, capMs: 5 }, ...opts });
  stops.push(() => top.stop());
  return { binance, okx, hub, top, pairs, listed };
}

describe('TopPairs', () => {
  it('subscribes the 20 most traded USDT pairs of each exchange with one all-tickers request each', async () => {
    const { binance, okx, hub, top, pairs } = rig();
    top.start();
    await withTimeout(top.settled(), 2000, 'ranking');
    const expected = pairs.slice(5).reverse();
    expect(top.tracked('binance')).toEqual(expected);
    expect([...binance.added].sort()).toEqual([...expected].sort());
    expect(top.tracked('okx')).toEqual(['ETH/USDT', 'SOL/USDT', 'BTC/USDT']);
    expect(hub.subscribedPairs('okx').sort()).toEqual(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
    expect([binance.volumeCalls, okx.volumeCalls]).toEqual([1, 1]);
    expect(binance.restCalls).toBe(0); // no per-pair or batched ticker request beside it
  });

  it('tracks nothing and asks nothing when disabled', async () => {
    const { binance, okx, top } = rig({ enabled: false });
    top.start();
    await withTimeout(top.settled(), 2000, 'nothing to settle');
    expect([binance.volumeCalls, okx.volumeCalls, binance.added.length, okx.added.length]).toEqual([0, 0, 0, 0]);
    expect([binance.marketLoads.total, okx.marketLoads.total]).toEqual([0, 0]);
  });

  it('retries until the exchange answers', async () => {
    const { okx, top } = rig();
    okx.failRest = new Error('ECONNREFUSED');
    top.start();
    for (let i = 0; i < 200 && okx.volumeCalls < 3; i++) await new Promise((r) => setTimeout(r, 5));
    expect(okx.volumeCalls).toBeGreaterThanOrEqual(3);
    expect(top.tracked('okx')).toEqual([]);
    okx.failRest = undefined;
    await withTimeout(top.settled(), 2000, 'ranking after the outage');
    expect(top.tracked('okx')).toHaveLength(3);
  });

  it('daily: reloads markets, subscribes newcomers and releases pairs that fell out, keeping other holders', async () => {
    const { okx, hub, top } = rig();
    top.start();
    await withTimeout(top.settled(), 2000, 'ranking');
    const ownRule = hub.subscribe('okx', 'BTC/USDT'); // someone else wants BTC/USDT too
    okx.quoteVolumes.set('BTC/USDT', 0.5);
    (okx.listed as Set<string>).add('DOGE/USDT');
    okx.quoteVolumes.set('DOGE/USDT', 100);
    await withTimeout(top.refresh(), 2000, 'refresh');
    expect(okx.marketLoads.reloads).toBe(1);
    expect(top.tracked('okx')).toEqual(['DOGE/USDT', 'ETH/USDT', 'SOL/USDT', 'BTC/USDT']);
    await hub.ensureListed('okx', 'DOGE/USDT'); // the reloaded listing is what the hub validates against
    ownRule();
    expect(okx.removed).toEqual([]);
  });

  it('keeps yesterday’s pairs when the daily refresh fails', async () => {
    const { binance, top } = rig();
    top.start();
    await withTimeout(top.settled(), 2000, 'ranking');
    const before = top.tracked('binance');
    binance.failMarkets = new Error('HTTP 503');
    await withTimeout(top.refresh(), 2000, 'refresh');
    expect(top.tracked('binance')).toEqual(before);
    expect(binance.removed).toEqual([]);
  });

  it('releases a pair that dropped out of the top', async () => {
    const { binance, top, pairs } = rig();
    top.start();
    await withTimeout(top.settled(), 2000, 'ranking');
    binance.quoteVolumes.set(pairs[24]!, 1); // the leader collapses
    await withTimeout(top.refresh(), 2000, 'refresh');
    expect(binance.removed).toEqual([pairs[24]]);
    expect(top.tracked('binance')).toContain(pairs[4]);
  });
});
