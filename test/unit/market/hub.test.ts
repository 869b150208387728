import { describe, expect, it, vi } from 'vitest';
import { MarketHub } from '../../../src/market/hub.js';
import { FeedError, UserInputError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';

const log = createLogger('silent');
const LISTED = new Set(['BTC/USDT', 'ETH/USDT', 'ETH/BTC']);

function setup() {
  let clock = 1_000_000;
  const now = () => clock;
  const feed = new MemoryFeed('binance', LISTED, new Map([['BTC/USDT', 97_000]]), now);
  const hub = new MarketHub({ feeds: [feed], log, now, freshMs: 60_000 });
  return { feed, hub, advance: (ms: number) => (clock += ms) };
}

describe('MarketHub subscriptions', () => {
  it('subscribes upstream once per pair and unsubscribes on the last release', () => {
    const { feed, hub } = setup();
    const a = hub.subscribe('binance', 'BTC/USDT');
    const b = hub.subscribe('binance', 'BTC/USDT');
    expect(feed.added).toEqual(['BTC/USDT']);
    a();
    a(); // a second call of the same handle must not steal b's reference
    expect(feed.removed).toEqual([]);
    b();
    expect(feed.removed).toEqual(['BTC/USDT']);
  });

  it('rejects an exchange that is not enabled with a chat-safe error', () => {
    const { hub } = setup();
    expect(() => hub.subscribe('kraken', 'BTC/USDT')).toThrow(UserInputError);
  });

  it('holdFor keeps a pair subscribed for a while and renews on repeat', () => {
    vi.useFakeTimers();
    try {
      const { feed, hub } = setup();
      hub.holdFor('binance', 'ETH/USDT', 1000);
      vi.advanceTimersByTime(800);
      hub.holdFor('binance', 'ETH/USDT', 1000);
      vi.advanceTimersByTime(800);
      expect(feed.added).toEqual(['ETH/USDT']);
      expect(feed.removed).toEqual([]);
      vi.advanceTimersByTime(300);
      expect(feed.removed).toEqual(['ETH/USDT']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('MarketHub ticks', () => {
  it('caches the latest price and tells every listener, even when one throws', () => {
    const { feed, hub } = setup();
    const seen: number[] = [];
    hub.onTick(() => {
      throw new Error('listener bug');
    });
    hub.onTick((t) => seen.push(t.last));
    feed.emit('BTC/USDT', 97_100);
    feed.emit('BTC/USDT', 97_200);
    expect(seen).toEqual([97_100, 97_200]);
    expect(hub.latest('binance', 'BTC/USDT')?.last).toBe(97_200);
  });

  it('never lets an older REST answer overwrite a newer streamed price', () => {
    const { hub } = setup();
    const base = { exchange: 'binance', pair: 'BTC/USDT', receivedAt: 0 } as const;
    hub.ingest({ ...base, last: 2, exchangeTs: 2_000, source: 'stream' });
    hub.ingest({ ...base, last: 1, exchangeTs: 1_000, source: 'poll' });
    expect(hub.latest('binance', 'BTC/USDT')?.last).toBe(2);
  });

  it('passes gap-fill ticks to listeners without replacing the current price', () => {
    const { hub } = setup();
    const base = { exchange: 'binance', pair: 'BTC/USDT', receivedAt: 0 } as const;
    const seen: string[] = [];
    hub.onTick((t) => seen.push(t.source));
    hub.ingest({ ...base, last: 5, exchangeTs: 5_000, source: 'stream' });
    hub.ingest({ ...base, last: 4, exchangeTs: 4_000, source: 'gapfill' });
    expect(seen).toEqual(['stream', 'gapfill']);
    expect(hub.latest('binance', 'BTC/USDT')?.last).toBe(5);
  });
});

describe('MarketHub.quote', () => {
  it('answers from REST when nothing is cached, then from the cache', async () => {
    const { feed, hub } = setup();
    const first = await hub.quote('binance', 'BTC/USDT');
    expect(first).toMatchObject({ fromRest: true, tick: { last: 97_000, source: 'rest' } });
    const second = await hub.quote('binance', 'BTC/USDT');
    expect(second.fromRest).toBe(false);
    expect(feed.restCalls).toBe(1);
  });

  it('refreshes a cached price that has gone stale', async () => {
    const { feed, hub, advance } = setup();
    feed.emit('BTC/USDT', 1);
    advance(61_000);
    expect((await hub.quote('binance', 'BTC/USDT')).fromRest).toBe(true);
  });

  it('falls back to the stale price rather than nothing when REST fails', async () => {
    const { feed, hub, advance } = setup();
    feed.emit('BTC/USDT', 42);
    advance(61_000);
    feed.failRest = new Error('ECONNREFUSED');
    expect((await hub.quote('binance', 'BTC/USDT')).tick.last).toBe(42);
  });

  it('says the exchange is unreachable when there is no price at all', async () => {
    const { feed, hub } = setup();
    feed.failRest = new Error('ECONNREFUSED');
    await expect(hub.quote('binance', 'ETH/USDT')).rejects.toBeInstanceOf(FeedError);
  });

  it('refuses an unlisted pair with suggestions', async () => {
    const { hub } = setup();
    await expect(hub.quote('binance', 'ETH/USDC')).rejects.toThrow(/ETH\/USDC is not traded on binance\. Did you mean ETH\/USDT/);
  });

  it('reports markets that cannot load as a feed problem, and retries on the next question', async () => {
    const { feed, hub } = setup();
    feed.failMarkets = new Error('getaddrinfo ENOTFOUND');
    await expect(hub.quote('binance', 'BTC/USDT')).rejects.toBeInstanceOf(FeedError);
    feed.failMarkets = undefined;
    await expect(hub.quote('binance', 'BTC/USDT')).resolves.toBeTruthy();
  });
});

describe('MarketHub.status', () => {
  it("reports each feed's state with the number of listed markets once loaded", async () => {
    const { hub } = setup();
    expect(hub.status()[0]).toMatchObject({ exchange: 'binance', state: 'connecting', markets: null });
    await hub.ensureListed('binance', 'BTC/USDT');
    expect(hub.status()[0]!.markets).toBe(3);
  });
});

describe('MarketHub.holdLive', () => {
  it('delivers replayed gap ticks before the live ticks that arrived during the replay, in order', () => {
    const { feed, hub } = setup();
    const seen: string[] = [];
    hub.onTick((t) => seen.push(`${t.source}:${t.last}`));
    const release = hub.holdLive('binance');
    feed.emit('BTC/USDT', 10); // live, arrives first
    hub.ingest({ exchange: 'binance', pair: 'BTC/USDT', last: 7, exchangeTs: 1, receivedAt: 1, source: 'gapfill' });
    hub.ingest({ exchange: 'binance', pair: 'BTC/USDT', last: 12, exchangeTs: 2, receivedAt: 2, source: 'gapfill' });
    feed.emit('BTC/USDT', 11);
    expect(seen).toEqual(['gapfill:7', 'gapfill:12']);
    release();
    release(); // idempotent
    expect(seen).toEqual(['gapfill:7', 'gapfill:12', 'stream:10', 'stream:11']);
    expect(hub.latest('binance', 'BTC/USDT')?.last).toBe(11);
  });

  it('releases by itself after its bound, so a stuck replay cannot freeze prices', () => {
    vi.useFakeTimers();
    try {
      const { feed, hub } = setup();
      const seen: number[] = [];
      hub.onTick((t) => seen.push(t.last));
      hub.holdLive('binance', 1_000);
      feed.emit('BTC/USDT', 5);
      expect(seen).toEqual([]);
      vi.advanceTimersByTime(1_001);
      expect(seen).toEqual([5]);
    } finally {
      vi.useRealTimers();
    }
  });
});
