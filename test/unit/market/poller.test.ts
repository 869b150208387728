import { describe, expect, it, vi } from 'vitest';
import { MarketHub } from '../../../src/market/hub.js';
import { Poller } from '../../../src/market/poller.js';
import { createLogger } from '../../../src/log.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';

const log = createLogger('silent');

function setup() {
  const feed = new MemoryFeed('binance', new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']));
  const hub = new MarketHub({ feeds: [feed], log });
  const poller = new Poller({ hub, feeds: [feed], cron: '*/30 * * * * *', log });
  return { feed, hub, poller };
}

describe('Poller', () => {
  it('fetches every subscribed pair of a non-streaming exchange in ONE request and feeds the hub', async () => {
    const { feed, hub, poller } = setup();
    for (const p of ['BTC/USDT', 'ETH/USDT', 'SOL/USDT']) hub.subscribe('binance', p);
    feed.state = 'down';
    const sources: string[] = [];
    hub.onTick((t) => sources.push(`${t.pair}:${t.source}`));
    await poller.pollOnce();
    expect(feed.restCalls).toBe(1);
    expect(sources.sort()).toEqual(['BTC/USDT:poll', 'ETH/USDT:poll', 'SOL/USDT:poll']);
    expect(hub.status()[0]!.state).toBe('polling');
  });

  it('costs nothing while the stream is up, and stops reporting polling once it is back', async () => {
    const { feed, hub, poller } = setup();
    hub.subscribe('binance', 'BTC/USDT');
    feed.state = 'down';
    await poller.pollOnce();
    feed.state = 'streaming';
    await poller.pollOnce();
    expect(feed.restCalls).toBe(1);
    feed.state = 'connecting';
    expect(hub.status()[0]!.state).toBe('connecting');
  });

  it('does nothing for an exchange with no subscriptions', async () => {
    const { feed, poller } = setup();
    feed.state = 'down';
    await poller.pollOnce();
    expect(feed.restCalls).toBe(0);
  });

  it('reports down, not polling, when the REST call fails too', async () => {
    const { feed, hub, poller } = setup();
    hub.subscribe('binance', 'BTC/USDT');
    feed.state = 'down';
    await poller.pollOnce();
    feed.failRest = new Error('ECONNREFUSED');
    await poller.pollOnce();
    expect(hub.status()[0]!.state).toBe('down');
  });

  it('polls at once when the stream drops, without waiting for the schedule, and not again while it flaps', async () => {
    let clock = 1_000_000;
    const feed = new MemoryFeed('binance', new Set(['BTC/USDT']), new Map([['BTC/USDT', 100]]));
    const hub = new MarketHub({ feeds: [feed], log });
    // a schedule that never comes during the test: only the drop can cause a request
    const poller = new Poller({ hub, feeds: [feed], cron: '0 0 1 1 *', log, now: () => clock, dropPollGapMs: 5_000 });
    hub.subscribe('binance', 'BTC/USDT');
    const polled: string[] = [];
    hub.onTick((t) => polled.push(t.source));
    poller.start();
    try {
      feed.setState('connecting'); // first connection: nothing to fall back from yet
      feed.setState('streaming');
      feed.setState('connecting'); // the drop
      await vi.waitFor(() => expect(polled).toEqual(['poll']));
      expect(feed.restCalls).toBe(1);
      expect(hub.status()[0]!.state).toBe('polling');

      clock += 1_000;
      feed.setState('streaming');
      feed.setState('down'); // a second drop within 5 s: the first poll's prices are still fresh
      clock += 5_000;
      feed.setState('streaming');
      feed.setState('connecting'); // and a third one after the gap
      await vi.waitFor(() => expect(feed.restCalls).toBe(2));
    } finally {
      await poller.stop();
    }
  });

  it('starts and stops its cron schedule', async () => {
    const { poller } = setup();
    poller.start();
    await poller.stop();
  });
});
